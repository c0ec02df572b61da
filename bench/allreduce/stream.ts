// Baseline: one plain TCP stream between two Node processes on this machine, and a 4 KB ping-pong.
//   node --import tsx stream.ts receiver          → prints its port, counts bytes, acks each round, echoes pings
//   node --import tsx stream.ts sender PORT BYTES ROUNDS PINGS → prints one JSON line { gbps: [...], rttUs: [...] }
import net from 'node:net';

const [role, ...args] = process.argv.slice(2);
const CHUNK = 4 * 1024 * 1024;

if (role === 'receiver') {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let expected = 0;
    let got = 0;
    let mode: 'header' | 'bulk' | 'ping' = 'header';
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      // Protocol: 9-byte header (u8 mode 1 = bulk / 2 = ping, u64 length); bulk is counted, a ping is echoed.
      let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pending = Buffer.alloc(0);
      while (buf.length > 0) {
        if (mode === 'header') {
          if (buf.length < 9) {
            pending = Buffer.from(buf);
            return;
          }
          mode = buf[0] === 1 ? 'bulk' : 'ping';
          expected = Number(buf.readBigUInt64LE(1));
          got = 0;
          buf = buf.subarray(9);
        }
        const take = Math.min(expected - got, buf.length);
        got += take;
        if (mode === 'ping' && take > 0) socket.write(buf.subarray(0, take));
        buf = buf.subarray(take);
        if (got === expected) {
          if (mode === 'bulk') socket.write(Buffer.from([1]));
          mode = 'header';
        }
      }
    });
    socket.on('close', () => process.exit(0));
  });
  server.listen(0, '127.0.0.1', () => console.log((server.address() as net.AddressInfo).port));
} else {
  const [port, bytes, rounds, pings] = args.map(Number);
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  let onData: (b: Buffer) => void = () => {};
  socket.on('data', (b: Buffer) => onData(b));
  const header = (mode: number, length: number): Buffer => {
    const h = Buffer.alloc(9);
    h[0] = mode;
    h.writeBigUInt64LE(BigInt(length), 1);
    return h;
  };
  const payload = Buffer.alloc(CHUNK, 1);
  const gbps: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const acked = new Promise<void>((resolve) => {
      onData = () => resolve();
    });
    const t0 = performance.now();
    socket.write(header(1, bytes));
    for (let sent = 0; sent < bytes; sent += CHUNK) {
      if (!socket.write(payload.subarray(0, Math.min(CHUNK, bytes - sent)))) await new Promise((res) => socket.once('drain', res));
    }
    await acked;
    gbps.push(bytes / ((performance.now() - t0) / 1000) / 1e9);
  }
  const ping = Buffer.alloc(4096, 2);
  const rttUs: number[] = [];
  for (let i = 0; i < pings; i++) {
    let got = 0;
    const back = new Promise<void>((resolve) => {
      onData = (b) => {
        got += b.length;
        if (got >= ping.length) resolve();
      };
    });
    const t0 = performance.now();
    socket.cork();
    socket.write(header(2, ping.length));
    socket.write(ping);
    socket.uncork();
    await back;
    rttUs.push((performance.now() - t0) * 1000);
  }
  console.log(JSON.stringify({ gbps, rttUs }));
  socket.end();
}
