import type { SigningKey } from '../../src/adapters/approval/signing';

/** The key unit tests sign and verify approval tokens with (a fixture, not a secret). */
export const TEST_SIGNING_KEY: SigningKey = { id: 'test', secret: Buffer.from('0123456789abcdef0123456789abcdef-unit-test-key') };
