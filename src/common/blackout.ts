/**
 * Blackout dates: pure date arithmetic shared by the pre-flight activity and the schedule script
 * (which turns the same periods into the schedule's skip calendars).
 */
export interface Period {
  from: string;
  to: string;
  reason: string;
}

/** The calendar date (YYYY-MM-DD) of `instant` in `timeZone`. */
export function localDate(instant: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant);
}

export function blackoutAt(periods: readonly Period[], instant: Date, timeZone: string): Period | undefined {
  const day = localDate(instant, timeZone);
  return periods.find((period) => period.from <= day && day <= period.to);
}

/** Every day of a period, for calendars that match single days. */
export function daysOf(period: Period): { year: number; month: number; day: number }[] {
  const days: { year: number; month: number; day: number }[] = [];
  const cursor = new Date(`${period.from}T00:00:00Z`);
  const end = new Date(`${period.to}T00:00:00Z`);
  while (cursor <= end && days.length < 366) {
    days.push({ year: cursor.getUTCFullYear(), month: cursor.getUTCMonth() + 1, day: cursor.getUTCDate() });
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return days;
}
