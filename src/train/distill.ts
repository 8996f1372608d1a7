/**
 * Distillation (DINOv2's recipe for small models): a frozen teacher, any checkpoint the toolkit
 * reads (a dinogpu DINO run, official DINO / DINOv2 .pth, timm or Hugging Face weights), and a
 * smaller student (ViT or MLP-Mixer) trained with the DINO loss (and optionally iBOT) against the
 * teacher's outputs on the global crops. The teacher never updates.
 *
 * Heads: when the checkpoint holds a DINO head (`head.mlp.*`, `head.last_layer.*`: dinogpu runs
 * and DINO's full checkpoints; `dino_head.*` in DINOv2's teacher checkpoints) the teacher uses it,
 * and the student's `outDim` must equal its prototypes. A teacher without a head (backbone
 * weights such as DINOv2's releases) is refused unless `teacherHead` is "random": a fixed
 * random-init DINO head of the student's `outDim` on the teacher's CLS features (seeded; saved in
 * checkpoints), through which the student learns the teacher's features as a fixed random
 * projection onto prototypes. With iBOT on, the teacher's patch targets come from its own iBOT
 * head (`ibot_head.*`: dinogpu runs trained with a separate iBOT head, DINOv2's teacher
 * checkpoints), whose prototypes must equal what the student's iBOT head gives (`ibotOutDim`, or
 * `outDim` when 0); from its DINO head when it has no separate one (a head shared by DINO and
 * iBOT, DINOv2's default); or with "random", a fixed random-init iBOT head. Teacher and student
 * patch grids must be the same.
 * @module
 */
import { join } from "node:path";
import { CheckpointError, readSafetensorsFile } from "../io/safetensors.ts";
import type { HostTensor } from "../tensor/host.ts";
import { loadModelFromState } from "../io/pretrained/load.ts";
import { readCheckpoint } from "../io/pretrained/read.ts";
import { DinoHead } from "../nn/dino_head.ts";
import { MlpMixer } from "../nn/mixer.ts";
import { VisionTransformer } from "../nn/vit.ts";
import type { DinoTrainConfig } from "./config.ts";
import { ConfigError } from "./validate.ts";
import { CHECKPOINT_TENSORS, latestCheckpoint, readCheckpointInfo } from "./checkpoint.ts";
import { buildHead, DinoNetwork, ibotOutDim } from "./models.ts";

/** A loaded frozen teacher and how its head came about. */
export interface DistillTeacher {
  /** The teacher network (backbone + head), frozen, in eval mode. */
  network: DinoNetwork;
  /** "checkpoint" when the head was read, "random" for a fixed random-init head. */
  head: "checkpoint" | "random";
  /**
   * The teacher's iBOT head: "checkpoint" when read, "shared" when its DINO head serves iBOT
   * too (no separate one in the checkpoint), "random" for a fixed random-init head,
   * "none" when the student trains without iBOT (a checkpoint's iBOT head is then left unread).
   */
  ibotHead: "checkpoint" | "shared" | "random" | "none";
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
  tokenGrids?: number[];
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
    return {
      state,
      file,
      heads: info.config.heads,
      arch: info.config.arch,
      tokenGrids: info.tokenGrids,
    };
  }
  const contents = await readCheckpoint(path, { prefer: "teacher" });
  return { state: contents.state, file: contents.file, config: contents.config };
}

/**
 * A DINO-style head (DINO or iBOT: `label` names it in errors) rebuilt from its tensors, the
 * layers and widths read from the shapes.
 */
function headFromState(state: Map<string, HostTensor>, file: string, label: string): DinoHead {
  const v = state.get("last_layer.weight_v");
  if (!v || v.shape.length !== 2) {
    throw new CheckpointError(`${file}: ${label} head without a 2-d last_layer.weight_v`);
  }
  const layerKeys = [...state.keys()].filter((key) => /^mlp(\.\d+)?\.weight$/.test(key)).sort(
    (a, b) => Number(a.split(".")[1] ?? 0) - Number(b.split(".")[1] ?? 0),
  );
  if (layerKeys.length === 0) {
    throw new CheckpointError(`${file}: ${label} head without mlp weights`);
  }
  const first = state.get(layerKeys[0])!;
  if (first.shape.length !== 2) {
    throw new CheckpointError(
      `${file}: ${label} head's ${layerKeys[0]} has shape [${first.shape.join(", ")}], not 2-d`,
    );
  }
  const head = new DinoHead({
    inDim: first.shape[1],
    outDim: v.shape[0],
    hiddenDim: layerKeys.length > 1 ? first.shape[0] : v.shape[1],
    bottleneckDim: v.shape[1],
    layers: layerKeys.length,
    normLastLayer: false,
    seed: 0,
  });
  try {
    head.loadStateDict(state);
  } catch (error) {
    head.dispose();
    throw new CheckpointError(`${file}: ${label} head: ${(error as Error).message}`);
  }
  return head;
}

/** How `loadDistillTeacher` reads a teacher. */
export interface DistillTeacherOptions {
  /**
   * The teacher's attention heads where the weights do not tell (dinogpu runs record them;
   * otherwise config.json or embedDim / 64).
   */
  heads?: number;
  /**
   * "checkpoint" (default): the teacher's own DINO (and iBOT) head, refused when the checkpoint
   * has none; "random": fixed random-init heads on the teacher's features instead (for backbone
   * weights, which have no head).
   */
  teacherHead?: "checkpoint" | "random";
}

/**
 * Loads the frozen teacher at `path` for a student configured by `config`, with the errors that
 * say why teacher and student cannot be matched (head prototypes, widths, patch grids, a missing
 * head).
 */
export async function loadDistillTeacher(
  path: string,
  config: DinoTrainConfig,
  options: DistillTeacherOptions = {},
): Promise<DistillTeacher> {
  const randomHead = options.teacherHead === "random";
  const { state, file, config: hfConfig, heads, arch, tokenGrids } = await readTeacherState(path);
  const backboneState = new Map<string, HostTensor>();
  const headState = new Map<string, HostTensor>();
  const ibotState = new Map<string, HostTensor>();
  for (const [name, value] of state) {
    const head = /^(head|dino_head)\./.exec(name);
    if (head) headState.set(name.slice(head[0].length), value);
    else if (name.startsWith("ibot_head.")) ibotState.set(name.slice("ibot_head.".length), value);
    else backboneState.set(name.replace(/^backbone\./, ""), value);
  }
  const { model: backbone, kind } = loadModelFromState(backboneState, {
    file,
    config: hfConfig,
    heads: options.heads ?? heads,
    arch: arch ?? "auto",
    // a Mixer grown by a resolution curriculum reorders its tokens
    tokenGrids,
  });
  const teacherDim = backbone.config.embedDim;
  const built: DinoHead[] = [];
  const fail = (message: string): never => {
    for (const head of built) head.dispose();
    backbone.dispose();
    throw new ConfigError(`distill: ${message}`);
  };
  const readHead = (from: Map<string, HostTensor>, label: string): DinoHead => {
    try {
      const head = headFromState(from, file, label);
      built.push(head);
      return head;
    } catch (error) {
      for (const head of built) head.dispose();
      backbone.dispose();
      throw error;
    }
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
  if (!randomHead && !headState.has("last_layer.weight_v")) {
    fail(
      `${file} has no DINO head (backbone weights only), and the DINO loss needs the teacher's ` +
        `prototypes; distil from a checkpoint with its head (a dinogpu run, DINO's full ` +
        `checkpoint, DINOv2's teacher_checkpoint.pth), or give --teacher-head random to put a ` +
        `fixed random-init head of ${config.outDim} prototypes on the teacher's CLS features`,
    );
  }
  if (!randomHead) {
    head = readHead(headState, "DINO");
    headKind = "checkpoint";
    if (head.config.outDim !== config.outDim) {
      fail(
        `the teacher's DINO head has ${head.config.outDim} prototypes but the student's outDim is ` +
          `${config.outDim}; the DINO loss compares them prototype by prototype, so set outDim ` +
          `to ${head.config.outDim}`,
      );
    }
    if (head.config.inDim !== teacherDim) {
      fail(
        `the teacher's DINO head takes ${head.config.inDim} features but its backbone gives ` +
          `${teacherDim}`,
      );
    }
  } else {
    head = buildHead(config, teacherDim, config.outDim, 7);
    built.push(head);
    headKind = "random";
  }
  let ibotHead: DinoHead | undefined;
  let ibotKind: DistillTeacher["ibotHead"] = "none";
  const ibotPrototypes = ibotOutDim(config);
  if (config.ibotLossWeight > 0) {
    if (!(backbone instanceof VisionTransformer)) {
      fail("iBOT needs the teacher's patch tokens: the teacher must be a ViT");
    }
    const teacherPatch = (backbone as VisionTransformer).config.patchSize;
    if (teacherPatch !== config.patchSize) {
      fail(
        `iBOT compares patch tokens position by position, but the teacher's patch ` +
          `${teacherPatch} and the student's patch ${config.patchSize} give different grids ` +
          `(${config.globalSize / teacherPatch} vs ${config.globalSize / config.patchSize} per ` +
          `side at ${config.globalSize} px); turn iBOT off or match the patch sizes`,
      );
    }
    if (!randomHead && !ibotState.has("last_layer.weight_v")) {
      // no separate iBOT head: the teacher was trained with one head for DINO and iBOT
      if (head.config.outDim !== ibotPrototypes) {
        fail(
          `${file} has no iBOT head, and its DINO head (which then served iBOT too) has ` +
            `${head.config.outDim} prototypes where the student's iBOT head gives ` +
            `${ibotPrototypes}; share the student's head (ibotSeparateHead false) or set ` +
            `ibotOutDim to ${head.config.outDim}, or give --teacher-head random`,
        );
      }
      ibotHead = head;
      ibotKind = "shared";
    } else if (!randomHead) {
      ibotHead = readHead(ibotState, "iBOT");
      ibotKind = "checkpoint";
      const found = ibotHead.config.outDim;
      if (found !== ibotPrototypes) {
        fail(
          `the teacher's iBOT head has ${found} prototypes but the student's iBOT head gives ` +
            `${ibotPrototypes}; the iBOT loss compares them prototype by prototype, so ` +
            (config.ibotSeparateHead
              ? `set ibotOutDim to ${found}`
              : `give the student a separate iBOT head (ibotSeparateHead) with ibotOutDim ${found}`),
        );
      }
      if (ibotHead.config.inDim !== teacherDim) {
        fail(
          `the teacher's iBOT head takes ${ibotHead.config.inDim} features but its backbone ` +
            `gives ${teacherDim}`,
        );
      }
    } else {
      ibotHead = buildHead(config, teacherDim, ibotPrototypes, 8);
      ibotKind = "random";
    }
  }
  const network = new DinoNetwork(config, false, { backbone, head, ibotHead });
  network.eval();
  for (const parameter of network.parameters()) parameter.requiresGrad = false;
  const size = kind === "vit"
    ? `ViT dim ${teacherDim} depth ${backbone.config.depth} patch ${backbone.config.patchSize}`
    : `MLP-Mixer dim ${teacherDim} depth ${backbone.config.depth}`;
  const ibotText = ibotKind === "checkpoint"
    ? `; its iBOT head (${ibotPrototypes} prototypes)`
    : ibotKind === "shared"
    ? `; its DINO head for iBOT too (no separate iBOT head)`
    : ibotKind === "random"
    ? `; a fixed random-init iBOT head of ${ibotPrototypes} prototypes (--teacher-head random)`
    : "";
  return {
    network,
    head: headKind,
    ibotHead: ibotKind,
    description: `teacher ${size} from ${file}; ${
      headKind === "checkpoint"
        ? `its DINO head (${config.outDim} prototypes)`
        : `a fixed random-init DINO head of ${config.outDim} prototypes (--teacher-head random)`
    }${ibotText}`,
  };
}
