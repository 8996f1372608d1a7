/**
 * Distillation (DINOv2's recipe for small models): a frozen teacher, any checkpoint the toolkit
 * reads (a dinogpu DINO run, official DINO / DINOv2 .pth, timm or Hugging Face weights), and a
 * smaller student (ViT or MLP-Mixer) trained with the DINO loss (and optionally iBOT) against the
 * teacher's outputs on the global crops. The teacher never updates.
 *
 * Heads: when the checkpoint holds a DINO head (`head.mlp.*`, `head.last_layer.*`: dinogpu runs and
 * DINO's full checkpoints) the teacher uses it, and the student's `outDim` must equal its
 * prototypes. A teacher without a head (backbone weights such as DINOv2's releases) gets a fixed
 * random-init DINO head of the student's `outDim` on its CLS features (seeded; saved in
 * checkpoints): the student then learns the teacher's features through a fixed random projection
 * onto prototypes. iBOT's teacher head is always such a fixed random head (iBOT heads in
 * checkpoints are not read), and needs teacher and student patch grids to be the same.
 * @module
 */
import { join } from "node:path";
import { CheckpointError, type HostTensor, readSafetensorsFile } from "../io/safetensors.ts";
import { loadModelFromState, readCheckpoint } from "../io/checkpoints.ts";
import { DinoHead } from "../nn/dino_head.ts";
import { MlpMixer } from "../nn/mixer.ts";
import { VisionTransformer } from "../nn/vit.ts";
import { ConfigError, type DinoTrainConfig } from "./config.ts";
import { CHECKPOINT_TENSORS, latestCheckpoint, readCheckpointInfo } from "./checkpoint.ts";
import { buildHead, DinoNetwork, ibotOutDim } from "./models.ts";

/** A loaded frozen teacher and how its head came about. */
export interface DistillTeacher {
  /** The teacher network (backbone + head), frozen, in eval mode. */
  network: DinoNetwork;
  /** "checkpoint" when the head was read, "random" for a fixed random-init head. */
  head: "checkpoint" | "random";
  /** One line for a person: the teacher's architecture and head. */
  description: string;
}

async function readTeacherState(
  path: string,
): Promise<{
  state: Map<string, HostTensor>;
  file: string;
  config?: Record<string, unknown>;
  heads?: number;
  arch?: "vit" | "mixer";
}> {
  // a dinogpu DINO run (or one of its checkpoint folders): its EMA teacher
  const info = await readCheckpointInfo(path).catch(() => undefined);
  if (info) {
    const folder = await latestCheckpoint(path);
    const file = join(folder, CHECKPOINT_TENSORS);
    const { tensors } = await readSafetensorsFile(file);
    const state = new Map<string, HostTensor>();
    for (const [name, value] of tensors) {
      if (name.startsWith("teacher.")) state.set(name.slice("teacher.".length), value);
    }
    return { state, file, heads: info.config.heads, arch: info.config.arch };
  }
  const contents = await readCheckpoint(path, { prefer: "teacher" });
  return { state: contents.state, file: contents.file, config: contents.config };
}

/** A DINO head rebuilt from `head.*` tensors (layers and widths read from the shapes). */
function headFromState(state: Map<string, HostTensor>, file: string): DinoHead {
  const v = state.get("last_layer.weight_v");
  if (!v || v.shape.length !== 2) {
    throw new CheckpointError(`${file}: head without last_layer.weight_v`);
  }
  const layerKeys = [...state.keys()].filter((key) => /^mlp(\.\d+)?\.weight$/.test(key)).sort(
    (a, b) => Number(a.split(".")[1] ?? 0) - Number(b.split(".")[1] ?? 0),
  );
  if (layerKeys.length === 0) throw new CheckpointError(`${file}: head without mlp weights`);
  const first = state.get(layerKeys[0])!;
  const head = new DinoHead({
    inDim: first.shape[1],
    outDim: v.shape[0],
    hiddenDim: layerKeys.length > 1 ? first.shape[0] : v.shape[1],
    bottleneckDim: v.shape[1],
    layers: layerKeys.length,
    normLastLayer: false,
    seed: 0,
  });
  head.loadStateDict(state);
  return head;
}

/**
 * Loads the frozen teacher at `path` for a student configured by `config`, with the errors that
 * say why teacher and student cannot be matched (head prototypes, widths, patch grids).
 * `heads`: the teacher's attention heads where the weights do not tell (dinogpu runs record them;
 * otherwise config.json or embedDim / 64).
 */
export async function loadDistillTeacher(
  path: string,
  config: DinoTrainConfig,
  options: { heads?: number } = {},
): Promise<DistillTeacher> {
  const { state, file, config: hfConfig, heads, arch } = await readTeacherState(path);
  const backboneState = new Map<string, HostTensor>();
  const headState = new Map<string, HostTensor>();
  for (const [name, value] of state) {
    if (name.startsWith("head.")) headState.set(name.slice("head.".length), value);
    else if (name.startsWith("ibot_head.")) continue;
    else backboneState.set(name.replace(/^backbone\./, ""), value);
  }
  const { model: backbone, kind } = loadModelFromState(backboneState, {
    file,
    config: hfConfig,
    heads: options.heads ?? heads,
    arch: arch ?? "auto",
  });
  const teacherDim = backbone.config.embedDim;
  const fail = (message: string): never => {
    backbone.dispose();
    throw new ConfigError(`distill: ${message}`);
  };
  if (backbone instanceof MlpMixer) {
    const grid = backbone.config.imageSize / backbone.config.patchSize;
    const studentGrid = config.globalSize / backbone.config.patchSize;
    if (grid !== studentGrid || (config.localCrops > 0 && config.localSize !== config.globalSize)) {
      fail(
        `the teacher is an MLP-Mixer built for ${backbone.config.imageSize} px ` +
          `(${grid}x${grid} tokens); it cannot see crops of ${config.globalSize} px` +
          (config.localCrops > 0 ? ` and local crops of ${config.localSize} px` : ""),
      );
    }
  }
  let head: DinoHead;
  let headKind: "checkpoint" | "random";
  if (headState.has("last_layer.weight_v")) {
    head = headFromState(headState, file);
    headKind = "checkpoint";
    if (head.config.outDim !== config.outDim) {
      head.dispose();
      fail(
        `the teacher's DINO head has ${head.config.outDim} prototypes but the student's outDim is ` +
          `${config.outDim}; the DINO loss compares them prototype by prototype, so set outDim ` +
          `to ${head.config.outDim}`,
      );
    }
    if (head.config.inDim !== teacherDim) {
      head.dispose();
      fail(
        `the teacher's head takes ${head.config.inDim} features but its backbone gives ${teacherDim}`,
      );
    }
  } else {
    head = buildHead(config, teacherDim, config.outDim, 7);
    headKind = "random";
  }
  let ibotHead: DinoHead | undefined;
  if (config.ibotLossWeight > 0) {
    if (!(backbone instanceof VisionTransformer)) {
      head.dispose();
      fail("iBOT needs the teacher's patch tokens: the teacher must be a ViT");
    }
    const teacherPatch = (backbone as VisionTransformer).config.patchSize;
    if (teacherPatch !== config.patchSize) {
      head.dispose();
      fail(
        `iBOT compares patch tokens position by position, but the teacher's patch ` +
          `${teacherPatch} and the student's patch ${config.patchSize} give different grids ` +
          `(${config.globalSize / teacherPatch} vs ${config.globalSize / config.patchSize} per ` +
          `side at ${config.globalSize} px); turn iBOT off or match the patch sizes`,
      );
    }
    ibotHead = buildHead(config, teacherDim, ibotOutDim(config), 8);
  }
  const network = new DinoNetwork(config, false, { backbone, head, ibotHead });
  network.eval();
  for (const parameter of network.parameters()) parameter.requiresGrad = false;
  const size = kind === "vit"
    ? `ViT dim ${teacherDim} depth ${backbone.config.depth} patch ${backbone.config.patchSize}`
    : `MLP-Mixer dim ${teacherDim} depth ${backbone.config.depth}`;
  return {
    network,
    head: headKind,
    description: `teacher ${size} from ${file}; ${
      headKind === "checkpoint"
        ? `its DINO head (${config.outDim} prototypes)`
        : `a fixed random-init DINO head of ${config.outDim} prototypes (the checkpoint has none)`
    }`,
  };
}
