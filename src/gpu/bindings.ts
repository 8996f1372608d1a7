/**
 * The device's caches of uniform parameter buffers (one per distinct list of parameter words)
 * and bind groups (one per pipeline, group and buffer list), so that a step that runs again
 * creates no GPU object. When a cache grows past its bound it is emptied; emptying the parameter
 * cache destroys its buffers and bumps `generation`, which invalidates recorded commands.
 * @module
 */

/** Parameter buffers kept before the cache is emptied. */
const MAX_PARAM_BUFFERS = 16384;
/** Bind groups kept before the cache is emptied. */
const MAX_BIND_GROUPS = 65536;

/** Uniform parameter buffers and bind groups of one device, created once and reused. */
export class BindingCache {
  readonly #device: GPUDevice;
  readonly #beforeReset: () => void;
  readonly #created: () => void;
  readonly #paramBuffers = new Map<string, GPUBuffer>();
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;
  /** Bumped whenever the parameter cache is emptied (its buffers destroyed). */
  generation = 0;

  /**
   * Creates the caches of `device`. `beforeReset` runs before parameter buffers are destroyed
   * (submit the work that reads them); `created` counts each new parameter buffer.
   */
  constructor(device: GPUDevice, beforeReset: () => void, created: () => void) {
    this.#device = device;
    this.#beforeReset = beforeReset;
    this.#created = created;
  }

  #id(object: object): number {
    let id = this.#ids.get(object);
    if (id === undefined) this.#ids.set(object, id = this.#nextId++);
    return id;
  }

  /** The uniform buffer holding `params` (32-bit words), created on first use. */
  params(params: Uint32Array | Float32Array | Int32Array): GPUBuffer {
    const words = new Uint32Array(params.buffer, params.byteOffset, params.length);
    const key = words.join(",");
    let buffer = this.#paramBuffers.get(key);
    if (!buffer) {
      if (this.#paramBuffers.size >= MAX_PARAM_BUFFERS) {
        this.#beforeReset();
        this.generation++;
        for (const old of this.#paramBuffers.values()) old.destroy();
        this.#paramBuffers.clear();
        this.#bindGroups.clear();
      }
      const size = Math.max(16, Math.ceil(words.byteLength / 16) * 16);
      buffer = this.#device.createBuffer({
        size,
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
        label: "params",
      });
      new Uint32Array(buffer.getMappedRange()).set(words);
      this.#created();
      buffer.unmap();
      this.#paramBuffers.set(key, buffer);
    }
    return buffer;
  }

  /** The bind group `group` of `pipeline` over `buffers` (binding i = buffers[i]). */
  group(pipeline: GPUComputePipeline, group: number, buffers: GPUBuffer[]): GPUBindGroup {
    let key = `${this.#id(pipeline)}:${group}`;
    for (const buffer of buffers) key += `,${this.#id(buffer)}`;
    let bindGroup = this.#bindGroups.get(key);
    if (!bindGroup) {
      if (this.#bindGroups.size >= MAX_BIND_GROUPS) this.#bindGroups.clear();
      bindGroup = this.#device.createBindGroup({
        layout: pipeline.getBindGroupLayout(group),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      this.#bindGroups.set(key, bindGroup);
    }
    return bindGroup;
  }
}
