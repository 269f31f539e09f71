// The official Aliyun API Gateway client (npm aliyun-api-gateway) against
// `signed_echo --scheme aliyun-apigw`: GET with query, POST form, POST JSON with Content-MD5.
'use strict';

const httpx = require('httpx');
const { Client } = require('aliyun-api-gateway');

const [endpoint, KEY, SECRET] = process.argv.slice(2);
const base = `http://${endpoint}`;

// Non-ASCII with a space, +, *, ~, /, an emoji, an empty value, and = & inside a value.
const AWKWARD = {
  name: '张三 李四', plus: 'a+b', star: 'x*y', tilde: '~home',
  slash: '/p/q', emoji: '😀', empty: '', mix: 'a=b&c d',
};

const calls = {
  'GET query': (c) => c.get(`${base}/api/items`, { query: AWKWARD }),
  'POST form': (c) => c.post(`${base}/api/items?page=1`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, data: AWKWARD,
  }),
  'POST JSON with Content-MD5': (c) => c.post(`${base}/api/items`, {
    headers: { 'content-type': 'application/json; charset=UTF-8' }, data: { name: '张三', n: 1, note: 'a+b ~/*' },
  }),
  'GET with a repeated parameter': (c) => c.get(`${base}/api/items?a=1&tag=x&tag=y%20z&b=`),
  'GET with an extra signed header': (c) => c.get(`${base}/api/items/42?a=1`, {
    headers: { 'x-custom': 'v1' }, signHeaders: { 'x-custom': 'v1' },
  }),
};

// Change what the SDK signed, after it signed it, by wrapping httpx.request.
async function withHook(hook, fn) {
  const original = httpx.request;
  httpx.request = (url, opts) => hook(original, url, opts);
  try { return await fn(); } finally { httpx.request = original; }
}

async function expectRefused(status, message, fn) {
  try {
    const body = await fn();
    throw new Error(`expected ${status} ${message}, got success ${JSON.stringify(body)}`);
  } catch (e) {
    if (e.code !== status) throw new Error(`expected HTTP ${status}, got ${e.code}: ${e.message}`);
    const got = (e.data && e.data.headers['x-ca-error-message']) || '';
    if (!got.startsWith(message)) throw new Error(`expected "${message}", SDK reported "${got}"`);
    if (!e.data.headers['x-ca-request-id']) throw new Error('no X-Ca-Request-Id on the refusal');
  }
}

const results = [];
async function test(name, fn) {
  try { await fn(); results.push([name, null]); console.log(`PASS ${name}`); }
  catch (e) { results.push([name, e]); console.log(`FAIL ${name}: ${e.stack || e}`); }
}

(async () => {
  const good = new Client(KEY, SECRET);
  for (const [name, call] of Object.entries(calls)) {
    await test(`${name}: valid call succeeds with the key id`, async () => {
      const body = await call(good);
      if (body.key_id !== KEY) throw new Error(`unexpected body ${JSON.stringify(body)}`);
    });
    await test(`${name}: wrong secret`, () =>
      expectRefused(400, 'Invalid Signature', () => call(new Client(KEY, SECRET + 'x'))));
    await test(`${name}: unknown key`, () =>
      expectRefused(400, 'Invalid AppKey', () => call(new Client('999999999', SECRET))));
    await test(`${name}: 20-minute-old timestamp`, async () => {
      const realNow = Date.now;
      Date.now = () => realNow() - 20 * 60 * 1000;
      try { await expectRefused(400, 'Timestamp Expired', () => call(good)); } finally { Date.now = realNow; }
    });
    await test(`${name}: replay`, () => withHook(async (send, url, opts) => {
      const first = await send(url, opts);
      if (first.statusCode !== 200) throw new Error(`first send got ${first.statusCode}`);
      await httpx.read(first, 'utf8');
      return send(url, opts);
    }, () => expectRefused(400, 'Nonce Used', () => call(good))));
    await test(`${name}: missing signature`, () => withHook((send, url, opts) => {
      delete opts.headers['x-ca-signature'];
      return send(url, opts);
    }, () => expectRefused(401, 'Empty Signature', () => call(good))));
    await test(`${name}: tampered ${name.startsWith('GET') ? 'parameter' : 'body'}`, () => withHook((send, url, opts) => {
      if (name.startsWith('GET')) {
        url.path = url.path.replace('a=1', 'a=2').replace('x%2Ay', 'x%2Az').replace('x*y', 'x*z');
        url.search = url.path.slice(url.path.indexOf('?'));
      } else {
        opts.data = Buffer.from(String(opts.data).replace('home', 'hame').replace('~/*', '~/+'));
      }
      return send(url, opts);
    }, () => expectRefused(400, name.includes('MD5') ? 'Invalid Content-MD5' : 'Invalid Signature', () => call(good))));
  }
  const failed = results.filter(([, e]) => e).length;
  console.log(`aliyun-apigw interop: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
