import { z } from 'zod';
import { parseDuration } from '../common/duration';

/** A duration written as in Temporal ("90s", "15m", "2h"), parsed to milliseconds; a bad one is the config's error. */
export const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
