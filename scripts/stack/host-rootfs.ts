// Root filesystems for FROM-scratch images, made of the host's own files: nothing can be pulled
// from the internet here. Used by build-images.ts (the stand-in's runtime, the toolbox) and
// node-base-image.ts (the worker Dockerfile's base). Files are copied, never linked, because an
// image has none of the host's symlink targets; libraries keep the paths ldd reports, where the
// host's loader looks for them without an ld.so.cache.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const LOADER = '/lib64/ld-linux-x86-64.so.2';

/** Copies a host file (its symlinks resolved) to `target` inside `rootfs`. */
export function placeHostFile(rootfs: string, source: string, target: string, mode = 0o755): void {
  const destination = path.join(rootfs, target);
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  fs.copyFileSync(fs.realpathSync(source), destination);
  fs.chmodSync(destination, mode);
}

/** The shared libraries ldd says `binary` links (the loader included), as host paths. */
export function linkedLibraries(binary: string): string[] {
  const libraries = [...execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).matchAll(/(\/\S+)\s+\(0x/g)]
    .map((match) => match[1])
    .filter((lib): lib is string => lib !== undefined);
  return [...new Set([...libraries, ...(fs.existsSync(LOADER) ? [LOADER] : [])])];
}

/**
 * The host's node as /usr/local/bin/node (where the official node images have it), plus every
 * library that it and `nativeAddons` (.node files it will load) link, at the same paths.
 */
export function placeNodeRuntime(rootfs: string, nodeBinary: string, nativeAddons: readonly string[] = []): void {
  placeHostFile(rootfs, nodeBinary, '/usr/local/bin/node');
  const libraries = new Set([nodeBinary, ...nativeAddons].flatMap(linkedLibraries));
  for (const lib of libraries) placeHostFile(rootfs, lib, lib);
}

/** root in /etc/passwd and /etc/group, and a sticky /tmp: what programs expect of any system. */
export function placeSystemFiles(rootfs: string): void {
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\n');
  fs.mkdirSync(path.join(rootfs, 'tmp'), { recursive: true });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
}

// Debian's dynamic busybox installs the same path but cannot run in an empty image.
export function staticBusybox(busybox = process.env.BUSYBOX_STATIC || '/bin/busybox'): string {
  const binary = fs.realpathSync(busybox);
  let linked = '';
  try {
    linked = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    // ldd exits non-zero for "not a dynamic executable": what we want.
  }
  if (/=>|ld-linux/.test(linked)) throw new Error(`${binary} is dynamically linked: install Debian's busybox-static`);
  return binary;
}

/** /bin/busybox and its applets (sh among them) as symlinks in /bin: `busybox --install -s`, done here because the image has no shell to run it. */
export function placeBusybox(rootfs: string, busybox: string): void {
  const bin = path.join(rootfs, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync(busybox, path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((name) => /^[\w.[-]+$/.test(name) && name !== 'busybox');
  for (const applet of applets) fs.symlinkSync('busybox', path.join(bin, applet));
}
