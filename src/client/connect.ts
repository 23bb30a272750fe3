import { Client, Connection } from '@temporalio/client';

export interface TemporalEndpoint {
  address: string;
  namespace: string;
}

/** Where Temporal is: TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, as the `temporal` CLI reads them. */
export function temporalEndpoint(env: NodeJS.ProcessEnv = process.env): TemporalEndpoint {
  return { address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233', namespace: env.TEMPORAL_NAMESPACE ?? 'default' };
}

/** One way to connect for the worker, scripts and tests; the caller closes the connection. */
export async function connectClient(endpoint: TemporalEndpoint = temporalEndpoint()): Promise<Client> {
  const connection = await Connection.connect({ address: endpoint.address });
  return new Client({ connection, namespace: endpoint.namespace });
}
