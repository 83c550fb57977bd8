/**
 * Runs a classic BPF program (struct sock_filter array, as BpfFilter.compile() makes it) on a frame the way the
 * kernel does for the instructions vipcheck's filters use: a load past the end of the frame rejects it, an
 * unknown instruction is an error (never a silent pass). Returns the number of bytes to keep (0 = rejected).
 */
export function runBpf(program: Buffer, frame: Buffer): number {
  let a = 0;
  let x = 0;
  const count = program.length / 8;
  for (let pc = 0; pc < count; pc++) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    const load = (offset: number, size: number): number | undefined => {
      if (offset + size > frame.length) return undefined;
      return size === 1 ? frame.readUInt8(offset) : size === 2 ? frame.readUInt16BE(offset) : frame.readUInt32BE(offset);
    };
    switch (code) {
      case 0x30:
      case 0x28:
      case 0x20:
      case 0x50:
      case 0x48:
      case 0x40: {
        const size = {0x30: 1, 0x28: 2, 0x20: 4, 0x50: 1, 0x48: 2, 0x40: 4}[code]!;
        const value = load((code & 0x40 ? x : 0) + k, size);
        if (value === undefined) return 0;
        a = value;
        break;
      }
      case 0xb1: {
        const value = load(k, 1);
        if (value === undefined) return 0;
        x = 4 * (value & 0x0f);
        break;
      }
      case 0x54:
        a = (a & k) >>> 0;
        break;
      case 0x15:
        pc += a === k ? jt : jf;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`instruction 0x${code.toString(16)} at ${pc} is not interpreted`);
    }
  }
  throw new Error('the program ran off its end');
}
