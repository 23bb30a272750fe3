/**
 * Business data in real NocoBase, made through NocoBase's own REST API as a user would make it:
 * sign in as the root user the install created (INIT_ROOT_EMAIL / INIT_ROOT_PASSWORD), define a
 * collection, create records. Nothing here writes to the database directly.
 */
export interface NocobaseLogin {
  email: string;
  password: string;
}

export interface BusinessData {
  collection: string;
  records: number;
}

async function call<T>(baseUrl: string, action: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/${action}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      // The basic (email and password) authenticator the install sets up.
      'X-Authenticator': 'basic',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`NocoBase ${action} answered ${response.status}: ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { data: T }).data;
}

/** `POST /api/auth:signIn`: the bearer token of the given user. */
export async function signIn(baseUrl: string, login: NocobaseLogin): Promise<string> {
  const { token } = await call<{ token: string }>(baseUrl, 'auth:signIn', { account: login.email, password: login.password });
  return token;
}

/**
 * Creates collection `orders` (customer, amount, placed on) and `records` orders through
 * `collections:create` and `orders:create`. Not idempotent: run it once on a fresh first start.
 * Give it ONE node's URL, not the load balancer's: without NocoBase's commercial sync adapter a
 * collection created on one node stays unknown to the others (404) until they restart.
 */
export async function createBusinessData(baseUrl: string, login: NocobaseLogin, records = 20, collection = 'orders'): Promise<BusinessData> {
  const token = await signIn(baseUrl, login);
  await call(baseUrl, 'collections:create', {
    name: collection,
    title: 'Orders',
    fields: [
      { name: 'customer', type: 'string', interface: 'input', uiSchema: { title: 'Customer', type: 'string', 'x-component': 'Input' } },
      { name: 'amount', type: 'double', interface: 'number', uiSchema: { title: 'Amount', type: 'number', 'x-component': 'InputNumber' } },
      { name: 'placedOn', type: 'dateOnly', interface: 'date', uiSchema: { title: 'Placed on', type: 'string', 'x-component': 'DatePicker' } },
    ],
  }, token);
  for (let i = 1; i <= records; i++) {
    const day = String(1 + (i % 28)).padStart(2, '0');
    await call(baseUrl, `${collection}:create`, { customer: `Customer ${i}`, amount: i * 12.5, placedOn: `2026-11-${day}` }, token);
  }
  return { collection, records };
}

/** Every record of `collection` through `<collection>:list`, ordered by id. */
export async function listRecords(baseUrl: string, login: NocobaseLogin, collection = 'orders'): Promise<Record<string, unknown>[]> {
  const token = await signIn(baseUrl, login);
  const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/${collection}:list?pageSize=1000&sort=id`, {
    headers: { Authorization: `Bearer ${token}`, 'X-Authenticator': 'basic' },
  });
  if (!response.ok) throw new Error(`NocoBase ${collection}:list answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  return ((await response.json()) as { data: Record<string, unknown>[] }).data;
}
