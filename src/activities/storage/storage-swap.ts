import { fileSlug } from '../../adapters/backup-files/file-slug';
import { STORAGE_TARGET } from '../../adapters/docker/tool-container';

/**
 * How a storage restore replaces the live files without ever deleting them first: the archive is
 * unpacked into a staging directory on the same volume, the live entries are moved (renamed, so
 * no copy) into an aside directory, the staged entries are moved into place, and only then is
 * the aside directory removed. Each phase leaves a mark, so a restore that dies at any point —
 * also on another worker — is finished by the next attempt, and at every moment each upload is
 * either at its place or in the aside directory. Needs room on the storage's volume for one more
 * copy of the archive's contents while it runs. Scripts for the tool image's POSIX shell (busybox).
 */

const PREFIX = '.nocobase-maintenance-';
const STAGED = `${PREFIX}staged`;
const ASIDE_DONE = `${PREFIX}aside-done`;

export interface SwapPlaces {
  /** Relative to STORAGE_TARGET: where the archive is unpacked. */
  staging: string;
  /** Relative to STORAGE_TARGET: where the live entries wait until the swap is done. */
  aside: string;
}

export function swapPlaces(label: string): SwapPlaces {
  return { staging: `${PREFIX}restore-${fileSlug(label)}`, aside: `${PREFIX}aside-${fileSlug(label)}` };
}

const header = ({ staging, aside }: SwapPlaces): string => `set -e; cd ${STORAGE_TARGET}; S='${staging}'; A='${aside}'; `;

/**
 * Prints `staged` (an earlier attempt unpacked the whole archive: go on with the swap), `done`
 * (an earlier attempt swapped; only the aside directory was left, now removed) or `empty` (a
 * fresh, empty staging directory: unpack the archive into it).
 */
export function prepareScript(places: SwapPlaces): string[] {
  return [
    'sh',
    '-c',
    `${header(places)}if [ -f "$S/${STAGED}" ]; then echo staged; ` +
      `elif [ ! -d "$S" ] && [ -f "$A/${ASIDE_DONE}" ]; then rm -rf -- "$A"; echo done; ` +
      `else rm -rf -- "$S"; mkdir -- "$S"; echo empty; fi`,
  ];
}

/**
 * Run once the staging directory holds the whole archive: marks it staged, moves the live entries
 * aside (skipping our own directories), moves the staged ones into place, then retires the staging
 * directory into the aside one with one rename and removes that. Repeatable from any point.
 */
export function swapScript(places: SwapPlaces): string[] {
  const each = (dir: string) => `for e in ${dir}* ${dir}.[!.]* ${dir}..?*; do [ -e "$e" ] || [ -L "$e" ] || continue; `;
  return [
    'sh',
    '-c',
    `${header(places)}touch -- "$S/${STAGED}"; ` +
      `if [ ! -f "$A/${ASIDE_DONE}" ]; then mkdir -p -- "$A"; ` +
      `${each('')}case "$e" in ${PREFIX}restore-*|${PREFIX}aside-*) continue;; esac; mv -- "$e" "$A/"; done; ` +
      `touch -- "$A/${ASIDE_DONE}"; fi; ` +
      `${each('"$S"/')}[ "\${e##*/}" = '${STAGED}' ] && continue; mv -- "$e" ./; done; ` +
      `mv -- "$S" "$A/retired-staging"; rm -rf -- "$A"`,
  ];
}
