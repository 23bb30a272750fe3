import { writeMapFileEntry } from '../../../src/adapters/haproxy/map-file';

/** Child process for the map-file test: sets `<prefix>-0 … <prefix>-<count-1>` one by one. */
async function main(): Promise<void> {
  const [file, prefix, count] = process.argv.slice(2);
  for (let index = 0; index < Number(count); index++) await writeMapFileEntry(file!, `${prefix}-${index}`, 'on');
}

void main();
