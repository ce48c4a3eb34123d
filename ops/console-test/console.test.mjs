// The console's browser test (issue 14), run by scripts/console-test.sh
// against an all-in-one started with --api-token: headless Chromium loads
// the console, a purchase made through its form is refused without the
// token (the service's JSON error shown) and accepted with it; the new
// stock and the event appear; a purchase made over the REST API appears
// live too; the breaker, dead letters and the API explorer are shown. It
// saves a screenshot.
//
//   node console.test.mjs <console-url> <purchase-url> <inventory-url> <token> <screenshot.png>

import { chromium } from "playwright-core";

const [consoleUrl, purchaseUrl, inventoryUrl, token, screenshot] = process.argv.slice(2);
const suffix = Date.now().toString(36);
const formProduct = `lamp-${suffix}`;
const restProduct = `desk-${suffix}`;

async function rest(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

function check(condition, what) {
  if (!condition) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

for (const id of [formProduct, restProduct]) {
  await rest(`${inventoryUrl}/products`, { id, name: id, unit: "pcs" });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless=new"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(consoleUrl);
  await page.locator("#live.up").waitFor();
  check(true, "the page loads and its event stream is live");

  // Without the token: refused, and the service's JSON error shown.
  const form = page.locator("#purchase-form");
  await form.locator("[name=product_id]").fill(formProduct);
  await form.locator("[name=quantity]").fill("7");
  await form.locator("[name=supplier]").fill("Acme");
  await form.locator("button").click();
  await page.locator("#form-result.refused").waitFor();
  const refused = await page.locator("#form-result").textContent();
  check(refused.startsWith("401") && refused.includes('"code": "unauthorized"'),
    `a purchase without the token shows 401 and its JSON error (${refused.split("\n")[0]})`);

  // With the token the page asks for: accepted; stock and event appear.
  await page.locator("#api-token").fill(token);
  await page.locator("#api-token").dispatchEvent("change");
  await form.locator("button").click();
  await page.locator("#form-result.ok").waitFor();
  check((await page.locator("#form-result").textContent()).startsWith("201"),
    "the same purchase with the token is recorded (201)");
  const formRow = page.locator(`#stock tr[data-product="${formProduct}"]`);
  await formRow.locator("td:nth-child(3)", { hasText: /^7$/ }).waitFor();
  check(true, `the stock table shows ${formProduct}: 7`);
  await page.locator(`#events li[data-type="purchase.completed"]`, { hasText: formProduct }).waitFor();
  await page.locator(`#events li[data-type="stock.changed"]`, { hasText: formProduct }).waitFor();
  check(true, "the purchase.completed and stock.changed events appear");
  check(await page.locator("#stock-chart rect").count() >= 1, "the bar chart draws the stock");

  // A purchase over the REST API, not through the page: shown live.
  await rest(`${purchaseUrl}/purchases`, { lines: [{ product_id: restProduct, quantity: 12, unit_price: 990 }] });
  await page.locator(`#stock tr[data-product="${restProduct}"] td:nth-child(3)`, { hasText: /^12$/ }).waitFor();
  check(true, `a purchase over REST shows ${restProduct}: 12 without a reload`);

  await page.locator("#breaker.closed").waitFor();
  check(true, "the breaker reads closed");
  await page.locator("#dead-letters tr", { hasText: "inventory.stock" }).waitFor();
  check(true, "the dead-letter table lists inventory.stock");

  // The API explorer, from inventory's /openapi.json.
  await page.locator("#explorer-service").selectOption("inventory");
  await page.getByRole("button", { name: "GET /stock/{store_id}/{product_id}", exact: true }).click();
  await page.locator('#operation-params input[name="store_id"]').fill("main");
  await page.locator('#operation-params input[name="product_id"]').fill(restProduct);
  await page.locator("#explorer-form button").click();
  await page.locator("#explorer-result.ok", { hasText: '"on_hand": 12' }).waitFor();
  check(true, "the API explorer sends GET /stock/main/<product> and shows the answer");

  await page.screenshot({ path: screenshot, fullPage: true });
  check(problems.length === 0, `no script error on the page ${problems.join("; ")}`);
  console.log(`screenshot: ${screenshot}`);
} finally {
  await browser.close();
}
