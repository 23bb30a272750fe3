import fs from 'node:fs';
import path from 'node:path';

export const README = path.resolve(__dirname, '..', '..', 'README.md');

/**
 * A README shell block right after `<!-- commands-run-by: <test file> -->` is run by that test
 * rather than by the docs test on the stack: Worker Versioning, for one, needs two builds of the
 * worker, which the stack does not run.
 */
const SHELL_BLOCK = /^(?:<!-- commands-run-by: (\S+) -->\n)?```(?:sh|bash|shell)\n([\s\S]*?)^```/gm;

function shellBlocks(markdown: string): Array<{ runBy: string | undefined; body: string }> {
  return [...markdown.matchAll(SHELL_BLOCK)].map((match) => ({ runBy: match[1], body: match[2]! }));
}

function commandsOf(bodies: string[]): string[] {
  const commands = new Set<string>();
  for (const body of bodies) {
    const lines = body.replace(/\\\n\s*/g, ' ').split('\n');
    for (const line of lines) {
      const command = stripComment(line).replace(/\s+/g, ' ').trim();
      if (command) commands.add(command);
    }
  }
  return [...commands];
}

/** The command lines of the blocks no other test claims (`commands-run-by`): the docs test's own. */
export function readmeUnclaimedShellCommands(markdown = fs.readFileSync(README, 'utf8')): string[] {
  return commandsOf(shellBlocks(markdown).filter((block) => !block.runBy).map((block) => block.body));
}

/** The `temporal …` lines among them that no other test runs: CI must run every one. */
export function readmeTemporalCommands(markdown = fs.readFileSync(README, 'utf8')): string[] {
  const bodies = shellBlocks(markdown).filter((block) => !block.runBy).map((block) => block.body);
  return commandsOf(bodies).filter((command) => command.startsWith('temporal '));
}

/** The command lines of the blocks marked as run by `testFile` (a path from the repo root). */
export function readmeCommandsRunBy(testFile: string, markdown = fs.readFileSync(README, 'utf8')): string[] {
  return commandsOf(shellBlocks(markdown).filter((block) => block.runBy === testFile).map((block) => block.body));
}

/** A `#` outside quotes starts a comment (the README's commands quote their JSON in '…'). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === '\\' && quote === '"') i++;
      else if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

export interface UiStartForm {
  workflowId: string;
  taskQueue: string;
  workflowType: string;
  input: string;
}

/**
 * The values of a README table marked `<!-- name -->` that says how to fill in a Temporal UI form
 * (rows `| Label … | \`value\` |`), by label.
 */
export function readmeUiForm(name: string, markdown = fs.readFileSync(README, 'utf8')): (label: string) => string {
  const section = markdown.split(`<!-- ${name} -->\n`)[1];
  if (section === undefined) throw new Error(`README has no <!-- ${name} --> table`);
  const table = section.slice(0, section.search(/\n\n|$/));
  return (label) => {
    const row = new RegExp(`^\\| ${label}[^|]* \\| \`([^\`]+)\` \\|`, 'm').exec(table);
    if (!row) throw new Error(`README's ${name} table has no "${label}" row`);
    return row[1]!;
  };
}

/** The README's "Start Workflow" form for the demo cluster. */
export function readmeUiStartForm(): UiStartForm {
  const field = readmeUiForm('ui-start-workflow');
  return { workflowId: field('Workflow ID'), taskQueue: field('Task Queue'), workflowType: field('Workflow Type'), input: field('Input') };
}
