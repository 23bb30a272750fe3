import type { DecisionKind } from '../common/approval-token';
import type { NotificationOutcome } from '../common/procedure-types';
import { quick } from './activity-options';
import { describeFailure } from './saga';

/** A notice that cannot be sent never fails a procedure: the outcome records why. */
export async function notify(
  cluster: string,
  subject: string,
  text: string,
  audience: 'recipients' | 'approvers' = 'recipients',
): Promise<NotificationOutcome> {
  try {
    return await quick.sendNotification({ cluster, subject, text, audience });
  } catch (error) {
    return { sent: false, recipients: [], reason: describeFailure(error) };
  }
}

/**
 * Mails each approver their own signed, single-use token for these kinds of decision (and the
 * other recipients a copy without); like `notify`, a mail that cannot be sent never fails a
 * procedure.
 */
export async function requestSigned(cluster: string, subject: string, text: string, kinds: DecisionKind[], validForMs?: number): Promise<NotificationOutcome> {
  try {
    return await quick.sendDecisionRequest({ cluster, subject, text, kinds, ...(validForMs === undefined ? {} : { validForMs }) });
  } catch (error) {
    return { sent: false, recipients: [], reason: describeFailure(error) };
  }
}
