/**
 * A restricted pickle reader: it decodes the opcodes `torch.save` and plain containers use and
 * understands only the globals that rebuilding tensors needs. It never executes anything: every
 * allowed global is interpreted by TypeScript code here, every other global or opcode is refused
 * with an error that names it (e.g. `refusing pickle global "posix.system"`).
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2^53), float →
 * number, str → string, bytes → Uint8Array, list and tuple → array, dict and OrderedDict → Map,
 * set → Set, tensors → {@link UnpickledTensor}. Objects of "inert" classes (by default only
 * `argparse.Namespace`, which DINO training checkpoints store under `args`) become
 * {@link PickleObject}s holding their pickled state; their class is never called.
 * @module
 */
import { CheckpointError } from "../safetensors.ts";
import { OPCODE_NAMES } from "./opcodes.ts";
import { CALLABLES, STORAGE_DTYPES } from "./torch_globals.ts";
import {
  describe,
  PickleGlobal,
  PickleObject,
  type PickleValue,
  UnpickledTensor,
} from "./values.ts";

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Resolves a BINPERSID identifier (torch.save: `("storage", type, key, location, numel)`). */
  persistentLoad?: (id: PickleValue) => PickleValue;
  /**
   * Classes ("module.name") whose instances become inert {@link PickleObject}s; default
   * `["argparse.Namespace"]`. Nothing of these classes is called.
   */
  inertClasses?: readonly string[];
}

/** Classes represented as inert objects unless `inertClasses` says otherwise. */
export const DEFAULT_INERT_CLASSES: readonly string[] = ["argparse.Namespace"];

function normaliseModule(module: string): string {
  return module === "__builtin__" ? "builtins" : module;
}

/** Decodes a pickle without executing anything; refuses unknown globals and opcodes by name. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PickleValue {
  const inert = new Set(options.inertClasses ?? DEFAULT_INERT_CLASSES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const memo = new Map<number, PickleValue>();
  const marks: PickleValue[][] = [];
  let stack: PickleValue[] = [];
  let at = 0;
  let opcodeAt = 0;

  const fail = (message: string): never => {
    throw new CheckpointError(`pickle: ${message} (byte ${opcodeAt})`);
  };
  const need = (count: number) => {
    if (at + count > bytes.length) {
      fail(`truncated: needs ${count} more bytes, ${bytes.length - at} left`);
    }
  };
  const take = (count: number): Uint8Array => {
    need(count);
    const out = bytes.subarray(at, at + count);
    at += count;
    return out;
  };
  const u8 = () => (need(1), bytes[at++]);
  const u16 = () => (need(2), at += 2, view.getUint16(at - 2, true));
  const u32 = () => (need(4), at += 4, view.getUint32(at - 4, true));
  const u64 = () => {
    need(8);
    at += 8;
    const value = view.getBigUint64(at - 8, true);
    if (value > BigInt(bytes.length)) fail(`length ${value} goes beyond the pickle`);
    return Number(value);
  };
  const text = (count: number): string => {
    try {
      return decoder.decode(take(count));
    } catch {
      return fail("string is not valid UTF-8");
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) fail("truncated: GLOBAL line has no newline");
    const out = new TextDecoder().decode(bytes.subarray(at, end));
    at = end + 1;
    return out;
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail("stack underflow");
    return stack.pop()!;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const items = stack;
    const previous = marks.pop();
    if (!previous) fail("no MARK on the stack");
    stack = previous!;
    return items;
  };
  const signed = (raw: Uint8Array): number | bigint => {
    let value = 0n;
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
    if (raw.length > 0 && raw[raw.length - 1] & 0x80) value -= 1n << BigInt(raw.length * 8);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  };
  const lookupGlobal = (module: string, name: string): PickleGlobal => {
    const qualified = `${normaliseModule(module)}.${name}`;
    const isStorageType = module === "torch" && Object.hasOwn(STORAGE_DTYPES, name);
    if (!isStorageType && !Object.hasOwn(CALLABLES, qualified) && !inert.has(qualified)) {
      fail(
        `refusing pickle global "${module}.${name}": only tensor-rebuilding globals, ` +
          `OrderedDict and inert classes [${[...inert].join(", ")}] are allowed`,
      );
    }
    return new PickleGlobal(normaliseModule(module), name);
  };
  const call = (callable: PickleValue, args: PickleValue, how: string): PickleValue => {
    if (!(callable instanceof PickleGlobal)) fail(`${how} of a non-global: ${describe(callable)}`);
    const target = callable as PickleGlobal;
    if (!Array.isArray(args)) fail(`${how} arguments are not a tuple: ${describe(args)}`);
    const handler = CALLABLES[target.qualifiedName];
    if (handler) return handler(args as PickleValue[]);
    if (inert.has(target.qualifiedName)) {
      return new PickleObject(target.qualifiedName, args as PickleValue[]);
    }
    return fail(`refusing to call pickle global "${target.qualifiedName}"`);
  };
  const setItems = (target: PickleValue, items: PickleValue[]) => {
    if (!(target instanceof Map)) fail(`SETITEM(S) on ${describe(target)}`);
    if (items.length % 2 !== 0) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) {
      (target as Map<PickleValue, PickleValue>).set(items[i], items[i + 1]);
    }
  };
  const appendItems = (target: PickleValue, items: PickleValue[]) => {
    if (!Array.isArray(target)) fail(`APPEND(S) on ${describe(target)}`);
    (target as PickleValue[]).push(...items);
  };

  while (true) {
    opcodeAt = at;
    if (at >= bytes.length) fail("truncated: no STOP opcode");
    const opcode = bytes[at++];
    switch (opcode) {
      case 0x80: { // PROTO
        const protocol = u8();
        if (protocol > 5) fail(`unsupported pickle protocol ${protocol}`);
        break;
      }
      case 0x95: // FRAME: length of the next frame; frames need no special handling.
        need(8);
        at += 8;
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) {
          fail(`STOP with ${stack.length} values and ${marks.length} marks on the stack`);
        }
        return stack[0];
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(at, true));
        at += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signed(take(u8())));
        break;
      case 0x8b: { // LONG4
        const count = u32();
        if (count > 1024) fail(`LONG4 of ${count} bytes is too large`);
        stack.push(signed(take(count)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(at, false));
        at += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING
        stack.push(text(u32()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x74: // TUPLE
      case 0x6c: { // LIST
        const items = popMark(); // popMark replaces `stack`: take the items first
        stack.push(items);
        break;
      }
      case 0x64: { // DICT
        const map = new Map<PickleValue, PickleValue>();
        setItems(map, popMark());
        stack.push(map);
        break;
      }
      case 0x91: { // FROZENSET
        const items = popMark();
        stack.push(new Set(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        appendItems(top(), [value]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const target = top();
        if (!(target instanceof Set)) fail(`ADDITEMS on ${describe(target)}`);
        for (const item of items) (target as Set<PickleValue>).add(item);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const index = opcode === 0x68 ? u8() : u32();
        if (!memo.has(index)) fail(`memo entry ${index} is not set`);
        stack.push(memo.get(index)!);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(lookupGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("STACK_GLOBAL needs two strings");
        }
        stack.push(lookupGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(call(callable, args, "REDUCE"));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size !== 0) fail("NEWOBJ_EX with keyword arguments");
        stack.push(call(cls, args, "NEWOBJ_EX"));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (target instanceof PickleObject) target.state = state;
        else if (!(target instanceof Map) && !(target instanceof UnpickledTensor)) {
          // OrderedDict attributes (a state dict's `_metadata`) and tensor states are dropped.
          fail(`BUILD on ${describe(target)}`);
        }
        break;
      }
      case 0x51: { // BINPERSID
        const id = pop();
        if (!options.persistentLoad) fail("BINPERSID without a persistent loader");
        stack.push(options.persistentLoad!(id));
        break;
      }
      default: {
        const name = OPCODE_NAMES[opcode];
        fail(
          `refusing pickle opcode ${name ?? "unknown"} (0x${opcode.toString(16).padStart(2, "0")})`,
        );
      }
    }
  }
}
