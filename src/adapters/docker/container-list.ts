import type Docker from 'dockerode';

export interface ListedContainer {
  name: string;
  id: string;
  image: string;
  /** Docker's state: created, running, exited, … */
  state: string;
  createdAt: string;
}

/** Every container (running or not) on the host whose name starts with `prefix`. Read-only. */
export async function containersNamedWithPrefix(docker: Docker, prefix: string): Promise<ListedContainer[]> {
  // The Engine's name filter matches anywhere in the name: narrow it to the prefix here.
  const listed = await docker.listContainers({ all: true, filters: { name: [prefix] } });
  return listed.flatMap((entry) => {
    const name = entry.Names.map((candidate) => candidate.replace(/^\//, '')).find((candidate) => candidate.startsWith(prefix));
    return name ? [{ name, id: entry.Id, image: entry.Image, state: entry.State, createdAt: new Date(entry.Created * 1000).toISOString() }] : [];
  });
}
