// Just enough ELF64 (little-endian) reading for the bundle build: the program interpreter
// (PT_INTERP) and the dynamic section's DT_NEEDED / DT_RPATH / DT_RUNPATH / DT_SONAME.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT = { NULL: 0, NEEDED: 1, STRTAB: 5, SONAME: 14, RPATH: 15, RUNPATH: 29 };

function readAt(fd, offset, length) {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}

function cString(buf, at) {
  const end = buf.indexOf(0, at);
  return buf.toString('utf8', at, end < 0 ? buf.length : end);
}

/**
 * @returns {{ type: number, interp?: string, needed: string[], rpath?: string, runpath?: string, soname?: string } | null}
 *   null when the file is not a 64-bit little-endian ELF.
 */
export function readElf(path) {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const eh = readAt(fd, 0, 64);
    if (eh.length < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return null;
    const type = eh.readUInt16LE(16);
    const phoff = Number(eh.readBigUInt64LE(32));
    const phentsize = eh.readUInt16LE(54);
    const phnum = eh.readUInt16LE(56);
    const ph = readAt(fd, phoff, phentsize * phnum);
    const loads = [];
    let interp;
    let dynamic;
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      const p = {
        type: ph.readUInt32LE(at),
        offset: Number(ph.readBigUInt64LE(at + 8)),
        vaddr: Number(ph.readBigUInt64LE(at + 16)),
        filesz: Number(ph.readBigUInt64LE(at + 32)),
      };
      if (p.type === PT_LOAD) loads.push(p);
      else if (p.type === PT_INTERP) interp = cString(readAt(fd, p.offset, p.filesz), 0);
      else if (p.type === PT_DYNAMIC) dynamic = p;
    }
    const out = { type, interp, needed: [] };
    if (!dynamic) return out;
    const toOffset = (vaddr) => {
      const seg = loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz);
      if (!seg) throw new Error(`${path}: address 0x${vaddr.toString(16)} is in no PT_LOAD segment`);
      return vaddr - seg.vaddr + seg.offset;
    };
    const dyn = readAt(fd, dynamic.offset, dynamic.filesz);
    const entries = [];
    let strtab;
    for (let at = 0; at + 16 <= dyn.length; at += 16) {
      const tag = Number(dyn.readBigInt64LE(at));
      const val = Number(dyn.readBigUInt64LE(at + 8));
      if (tag === DT.NULL) break;
      if (tag === DT.STRTAB) strtab = val;
      entries.push([tag, val]);
    }
    if (strtab === undefined) return out;
    const strOffset = toOffset(strtab);
    const str = readAt(fd, strOffset, Math.min(size - strOffset, 16 << 20));
    for (const [tag, val] of entries) {
      if (tag === DT.NEEDED) out.needed.push(cString(str, val));
      else if (tag === DT.RPATH) out.rpath = cString(str, val);
      else if (tag === DT.RUNPATH) out.runpath = cString(str, val);
      else if (tag === DT.SONAME) out.soname = cString(str, val);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
