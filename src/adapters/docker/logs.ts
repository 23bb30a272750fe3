/**
 * `docker logs` of a container without a TTY arrives multiplexed: each frame is an 8-byte header
 * (stream id, three zero bytes, big-endian length) followed by that many bytes of output.
 */
export function demuxDockerLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    if (stream !== 0 && stream !== 1 && stream !== 2) return buffer.toString('utf8'); // not multiplexed (TTY)
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}
