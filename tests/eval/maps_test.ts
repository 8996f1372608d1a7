import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import {
  attentionMask,
  clsAttentionMaps,
  heatmapPng,
  renderHeatmap,
} from "../../src/eval/attention_maps.ts";
import { colorAt, VIRIDIS } from "../../src/eval/colormap.ts";
import { pcaImages, principalComponents } from "../../src/eval/pca.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { decodeImage } from "../../src/io/image.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

Deno.test("colormap: viridis hits matplotlib's published anchor colours", () => {
  const anchors: [number, string][] = [[0, "440154"], [0.25, "3b528b"], [0.5, "21918c"], [
    0.75,
    "5ec962",
  ], [1, "fde725"]];
  for (const [t, hex] of anchors) {
    const want = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const got = colorAt(t);
    for (let c = 0; c < 3; c++) {
      assert(Math.abs(got[c] - want[c]) <= 6, `viridis(${t}) ${got} vs ${want}`);
    }
  }
  assertEquals(VIRIDIS.length, 768);
});

Deno.test("attention mask keeps the smallest set holding the mass, as DINO", () => {
  // sorted ascending: 0.05 0.05 0.1 0.2 0.6 -> cumulative 0.05 0.1 0.2 0.4 1.0; > 0.4 keeps only 0.6
  assertEquals(Array.from(attentionMask([0.1, 0.6, 0.05, 0.2, 0.05], 0.6)), [0, 1, 0, 0, 0]);
  // keep 0.7: > 0.3 keeps 0.2 (cumulative 0.4) and 0.6
  assertEquals(Array.from(attentionMask([0.1, 0.6, 0.05, 0.2, 0.05], 0.7)), [0, 1, 0, 1, 0]);
  // unnormalised input is normalised first
  assertEquals(Array.from(attentionMask([1, 6, 0.5, 2, 0.5], 0.6)), [0, 1, 0, 0, 0]);
});

Deno.test("heat map: nearest upsampling, min-max colours, blending and PNG", () => {
  const out = renderHeatmap([0, 1, 2, 3], 2, 2, 4, 4);
  assertEquals(Array.from(out.subarray(0, 3)), Array.from(VIRIDIS.subarray(0, 3)));
  assertEquals(
    Array.from(out.subarray((3 * 4 + 3) * 3, (3 * 4 + 3) * 3 + 3)),
    Array.from(VIRIDIS.subarray(765)),
  );
  assertEquals(Array.from(out.subarray(3, 6)), Array.from(out.subarray(0, 3))); // (1, 0) is patch 0
  const image = new Uint8Array(4 * 4 * 3).fill(100);
  const blended = renderHeatmap([0, 1, 2, 3], 2, 2, 4, 4, { image, alpha: 0.5 });
  assertEquals(blended[0], Math.round(0.5 * VIRIDIS[0] + 50));
  const bilinear = renderHeatmap([0, 1, 2, 3], 2, 2, 4, 4, { interpolation: "bilinear" });
  assert(bilinear[3] !== bilinear[0] || bilinear[4] !== bilinear[1], "bilinear blends neighbours");
  const decoded = decodeImage(heatmapPng([0, 1, 2, 3], 2, 2, 4, 4));
  assertEquals([decoded.width, decoded.height], [4, 4]);
  assertThrows(() => renderHeatmap([1, 2, 3], 2, 2, 4, 4), ShapeError, "3 values for a 2x2 grid");
});

gpuTest("attention maps: CLS row over patches, registers skipped", async () => {
  const vit = new VisionTransformer({
    imageSize: 32,
    patchSize: 8,
    embedDim: 32,
    depth: 2,
    heads: 2,
    registers: 2,
    seed: 4,
  });
  const random = new Random(2);
  const images = tensor(random.normals(2 * 3 * 32 * 24), [2, 3, 32, 24]);
  const maps = await clsAttentionMaps(vit, images);
  assertEquals([maps.batch, maps.heads, maps.gridH, maps.gridW], [2, 2, 4, 3]);
  // reference: the full probabilities, row 0, columns 3.. (1 CLS + 2 registers)
  const probabilities = vit.lastSelfAttention(images);
  const full = await probabilities.read();
  const tokens = 1 + 2 + 12;
  for (let bh = 0; bh < 4; bh++) {
    const want = full.subarray(bh * tokens * tokens + 3, bh * tokens * tokens + tokens);
    assertClose(maps.maps.subarray(bh * 12, (bh + 1) * 12), want, `map ${bh}`);
    let sum = 0;
    for (const v of want) sum += v;
    assert(sum < 1 && sum > 0.3, `patch mass ${sum}`);
  }
  probabilities.dispose();
  images.dispose();
});

Deno.test("pca: recovers planted components, signs fixed, images coloured", () => {
  const random = new Random(8);
  const dim = 20;
  const rows = 300;
  const basis = [0, 1, 2].map(() => {
    const v = random.normals(dim);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
  // orthonormalise the planted basis
  for (let c = 1; c < 3; c++) {
    for (let p = 0; p < c; p++) {
      const dot = basis[c].reduce((s, x, d) => s + x * basis[p][d], 0);
      basis[c] = basis[c].map((x, d) => x - dot * basis[p][d]);
    }
    const n = Math.hypot(...basis[c]);
    basis[c] = basis[c].map((x) => x / n);
  }
  const scales = [5, 3, 2];
  const data = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const z = scales.map((s) => s * random.normal());
    for (let d = 0; d < dim; d++) {
      data[r * dim + d] = 7 + 0.05 * random.normal() +
        z.reduce((s, zc, c) => s + zc * basis[c][d], 0);
    }
  }
  const pca = principalComponents(data, rows, dim, 3);
  const reference = jacobiEigen(covariance(data, rows, dim), dim);
  for (let c = 0; c < 3; c++) {
    const vector = reference.vectors[c];
    const dot = vector.reduce((sum, x, d) => sum + x * pca.components[c * dim + d], 0);
    assert(Math.abs(Math.abs(dot) - 1) < 1e-8, `component ${c} alignment ${dot}`);
    assert(
      Math.abs(pca.variances[c] / reference.values[c] - 1) < 1e-8,
      `variance ${pca.variances[c]}`,
    );
    const planted = basis[c].reduce((sum, x, d) => sum + x * vector[d], 0);
    assert(Math.abs(planted) > 0.99, `planted component ${c}: ${planted}`);
  }
  // sign convention: the largest |projection| of each component is positive
  for (let c = 0; c < 3; c++) {
    const column = Array.from({ length: rows }, (_, r) => pca.projections[r * 3 + c]);
    const largest = column.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
    assert(largest > 0, `component ${c} sign`);
  }
  assert(pca.variances[0] > pca.variances[1] && pca.variances[1] > pca.variances[2]);
  const images = pcaImages(data, 3, dim, { gridH: 10, gridW: 10, outW: 20, outH: 20 });
  assertEquals(images.length, 3);
  assertEquals(images[0].length, 20 * 20 * 3);
  const all = images.flatMap((image) => Array.from(image));
  assertEquals(Math.min(...all), 0);
  assertEquals(Math.max(...all), 255);
  const masked = pcaImages(data, 3, dim, { gridH: 10, gridW: 10, foregroundThreshold: 0.5 });
  const black = masked.flatMap((image) =>
    Array.from(
      { length: 100 },
      (_, p) => image[p * 3] + image[p * 3 + 1] + image[p * 3 + 2] === 0 ? 1 : 0,
    )
  ).reduce((a: number, b: number) => a + b, 0);
  assert(black > 30 && black < 290, `background patches ${black}`);
});

function covariance(data: Float64Array, rows: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d] += data[r * dim + d] / rows;
  const out = new Float64Array(dim * dim);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < dim; j++) {
        out[i * dim + j] += (data[r * dim + i] - mean[i]) * (data[r * dim + j] - mean[j]) /
          (rows - 1);
      }
    }
  }
  return out;
}

/** Cyclic Jacobi eigen-decomposition of a symmetric matrix; eigenpairs by decreasing value. */
function jacobiEigen(matrix: Float64Array, n: number) {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p * n + q]) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y] - a[x * n + x]);
  return {
    values: order.map((i) => a[i * n + i]),
    vectors: order.map((i) => Array.from({ length: n }, (_, k) => v[k * n + i])),
  };
}
