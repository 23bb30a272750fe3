import type { Transporter } from 'nodemailer';
import type { SmtpConfig } from '../config/schema';
import { ConfigError } from '../config/config-error';

/**
 * At worker start, one SMTP session as the procedures will open it (STARTTLS when `requireTLS`,
 * the login when credentials are named), so a wrong password or a server without TLS is a clear
 * refusal now rather than an approval mail that never arrives. A server that cannot be reached
 * only warns: it may be back before the first mail, and sending is retried.
 */
export async function checkMailServer(mailer: Transporter, smtp: SmtpConfig): Promise<string | undefined> {
  try {
    await mailer.verify();
    return undefined;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const where = `${smtp.host}:${smtp.port}`;
    if (code === 'EAUTH' || code === 'ENOAUTH') {
      throw new ConfigError(`smtp: ${where} refused the login of ${smtp.userEnv ?? 'the configured user'}/${smtp.passwordEnv ?? ''}: ${message}`);
    }
    if (code === 'ETLS' || (smtp.requireTLS && /STARTTLS/i.test(message))) {
      throw new ConfigError(`smtp: ${where} offers no TLS, and requireTLS is set: ${message}`);
    }
    return `smtp: ${where} cannot be reached now (${code ?? 'error'}: ${message}); mails will be retried`;
  }
}
