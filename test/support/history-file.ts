import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { payloadCodecsFromEnv } from '../../src/client/data-converter';
import { decodeHistory } from '../../src/codec/decode-history';

// Histories as protobufjs' own JSON (longs, enums and bytes as strings): the proto3 JSON helpers
// of @temporalio/common fail here because npm installs two copies of protobufjs.
const History = temporal.api.history.v1.History;

export function readHistory(path: string): temporal.api.history.v1.IHistory {
  return History.fromObject(JSON.parse(readFileSync(path, 'utf8')));
}

/** Saves the history of the workflow's latest run, when it has closed (a run still going is not a record). */
export async function saveHistory(client: Client, workflowId: string, path: string): Promise<boolean> {
  const handle = client.workflow.getHandle(workflowId);
  const { status } = await handle.describe();
  if (status.name === 'RUNNING') return false;
  // Recorded decoded: test/histories must replay on any machine, without this stack's codec key.
  const history = await decodeHistory(await handle.fetchHistory(), payloadCodecsFromEnv());
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String }), null, 1)}\n`);
  return true;
}
