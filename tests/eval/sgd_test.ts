import { assertThrows } from "../helpers/assert.ts";
import { Sgd } from "../../src/optim/sgd.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

/** PyTorch's SGD in float64. */
function referenceSgd(
  p: Float64Array,
  grads: Float64Array[],
  lrs: number[],
  o: { momentum: number; dampening: number; weightDecay: number; nesterov: boolean },
): Float64Array {
  const param = Float64Array.from(p);
  let buffer: Float64Array | undefined;
  grads.forEach((grad, step) => {
    const g = grad.map((value, i) => value + o.weightDecay * param[i]);
    if (o.momentum !== 0) {
      buffer = buffer
        ? buffer.map((b, i) => o.momentum * b + (1 - o.dampening) * g[i])
        : Float64Array.from(g);
    }
    for (let i = 0; i < param.length; i++) {
      const update = o.momentum === 0
        ? g[i]
        : o.nesterov
        ? g[i] + o.momentum * buffer![i]
        : buffer![i];
      param[i] -= lrs[step] * update;
    }
  });
  return param;
}

gpuTest("sgd: matches PyTorch's update over several steps", async () => {
  const random = new Random(3);
  const size = 1000;
  for (
    const o of [
      { momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
      { momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false },
      { momentum: 0.5, dampening: 0, weightDecay: 0.1, nesterov: true },
      { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    ]
  ) {
    const start = Float64Array.from(Float32Array.from(random.normals(size)));
    const grads = [0, 1, 2, 3].map(() =>
      Float64Array.from(Float32Array.from(random.normals(size)))
    );
    const lrs = [0.1, 0.05, 0.2, 0.01];
    const param = tensor(start, [size]);
    param.requiresGrad = true;
    const optimizer = new Sgd([param], { lr: lrs[0], ...o });
    grads.forEach((grad, step) => {
      param.grad?.dispose();
      param.grad = tensor(grad, [size]);
      optimizer.lr = lrs[step];
      optimizer.step();
    });
    assertClose(await param.read(), referenceSgd(start, grads, lrs, o), `sgd ${JSON.stringify(o)}`);
    param.grad?.dispose();
    param.dispose();
    optimizer.dispose();
  }
  assertThrows(() => new Sgd([], { lr: -1 }), RangeError, "lr must be a finite number >= 0");
  assertThrows(() => new Sgd([], { lr: 1, nesterov: true }), RangeError, "Nesterov");
});
