/**
 * `npm run schedule -- <command> ...`: maintenance windows as Temporal Schedules.
 *
 *   create   --cluster demo --procedure versionUpgrade --input '{"image":"..."}' --cron "0 2 * * SUN"
 *            [--calendar '<CalendarSpec JSON>'] [--time-zone Europe/Berlin] [--catchup 1h] [--id ID] [--note TEXT] [--paused]
 *   list
 *   describe ID | pause ID [--note TEXT] | unpause ID [--note TEXT] | trigger ID | delete ID
 *
 * The cluster's blackout days become the schedule's skip calendars; the cluster's time zone is the
 * default. The `temporal` CLI can do the same: see the README.
 */
import { parseArgs } from 'node:util';
import { connectClient } from '../src/client/connect';
import { createMaintenanceSchedule, summarizeSchedule } from '../src/client/schedules';
import { loadConfig } from '../src/config/load';
import { isProcedureName, PROCEDURE_NAMES } from '../src/procedures';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      cluster: { type: 'string' },
      procedure: { type: 'string' },
      input: { type: 'string', default: '{}' },
      cron: { type: 'string' },
      calendar: { type: 'string' },
      'time-zone': { type: 'string' },
      catchup: { type: 'string' },
      id: { type: 'string' },
      note: { type: 'string' },
      paused: { type: 'boolean', default: false },
    },
  });
  const [command, id] = positionals;
  const client = await connectClient();
  try {
    switch (command) {
      case 'create': {
        const config = loadConfig();
        const cluster = values.cluster ? config.clusters[values.cluster] : undefined;
        if (!values.cluster || !cluster) throw new Error(`--cluster must name a cluster of ${process.env.NOCOBASE_MAINTENANCE_CONFIG}: ${Object.keys(config.clusters).join(', ')}`);
        if (!isProcedureName(values.procedure)) throw new Error(`--procedure must be one of ${PROCEDURE_NAMES.join(', ')}`);
        const scheduleId = await createMaintenanceSchedule(
          client,
          {
            cluster: values.cluster,
            procedure: values.procedure,
            input: JSON.parse(values.input ?? '{}') as Record<string, unknown>,
            ...(values.cron ? { cron: values.cron } : {}),
            ...(values.calendar ? { calendars: [JSON.parse(values.calendar)] } : {}),
            ...(values['time-zone'] ? { timeZone: values['time-zone'] } : {}),
            ...(values.catchup ? { catchupWindow: values.catchup } : {}),
            ...(values.id ? { scheduleId: values.id } : {}),
            ...(values.note ? { note: values.note } : {}),
            paused: values.paused ?? false,
          },
          cluster,
        );
        console.log(JSON.stringify(summarizeSchedule(await client.schedule.getHandle(scheduleId).describe()), null, 2));
        break;
      }
      case 'list':
        for await (const schedule of client.schedule.list()) console.log(`${schedule.scheduleId}\t${schedule.state.paused ? 'paused' : 'active'}\t${schedule.info.nextActionTimes[0]?.toISOString() ?? '-'}`);
        break;
      case 'describe':
        console.log(JSON.stringify(summarizeSchedule(await client.schedule.getHandle(required(id)).describe()), null, 2));
        break;
      case 'pause':
        await client.schedule.getHandle(required(id)).pause(values.note);
        break;
      case 'unpause':
        await client.schedule.getHandle(required(id)).unpause(values.note);
        break;
      case 'trigger':
        await client.schedule.getHandle(required(id)).trigger();
        break;
      case 'delete':
        await client.schedule.getHandle(required(id)).delete();
        break;
      default:
        throw new Error('usage: npm run schedule -- create|list|describe|pause|unpause|trigger|delete ... (see scripts/schedule.ts)');
    }
  } finally {
    await client.connection.close();
  }
}

function required(id: string | undefined): string {
  if (!id) throw new Error('this command needs a schedule ID (npm run schedule -- list)');
  return id;
}

main().catch((error: unknown) => {
  console.error(`schedule: ${(error as Error).message}`);
  process.exit(1);
});
