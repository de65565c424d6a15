#!/usr/bin/env node
// tests/browser/chat.js - examples/ws_chat in a real browser: Debian's
// chromium, headless, driven by puppeteer-core (found through NODE_PATH;
// make interop-deps installs it under build/npm/).  Run by
// tests/browser/check_browser.sh, which starts the server and stops it.
//
//   node chat.js URL [CHROMIUM]
//
// Opens URL in two tabs, waits until both say "connected", sends a line
// from the first and waits until the second shows it as the room's
// broadcast ("#N: line").  Prints "browser: ..." lines; exits 0 when the
// message arrived, 1 (saying what did not happen) otherwise.  It never
// waits more than 30 s for anything and never leaves chromium running.
'use strict';
const puppeteer = require('puppeteer-core');

const [url, exe = '/usr/bin/chromium'] = process.argv.slice(2);
const WAIT = 30000;

async function connected(page, name) {
  await page.goto(url, { waitUntil: 'load', timeout: WAIT });
  await page
    .waitForFunction(
      () => document.getElementById('status').textContent === 'connected',
      { timeout: WAIT })
    .catch(() => {
      throw new Error(`${name} never connected`);
    });
  // The room's welcome names the member: "* welcome, you are #N".
  const hello = await page.waitForFunction(
    () => [...document.querySelectorAll('#log li')]
      .map((li) => li.textContent)
      .find((t) => t.startsWith('* welcome, you are #')),
    { timeout: WAIT });
  return (await hello.jsonValue()).replace('* welcome, you are ', '');
}

async function main() {
  const args = ['--disable-gpu', '--disable-dev-shm-usage',
                '--no-first-run', '--no-default-browser-check'];
  // Chromium refuses to run as root without this (a fresh CI machine).
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  const browser = await puppeteer.launch({
    executablePath: exe, headless: true, args, timeout: WAIT,
  });
  try {
    console.log(`browser: ${await browser.version()}`);
    const one = await browser.newPage();
    const two = await browser.newPage();
    const id1 = await connected(one, 'tab 1');
    const id2 = await connected(two, 'tab 2');
    console.log(`browser: tab 1 is ${id1}, tab 2 is ${id2}, both connected`);
    const line = `hello from tab 1, ${process.pid}-${Date.now()} \u2603`;
    await one.type('#text', line);
    await one.keyboard.press('Enter');
    const want = `${id1}: ${line}`;
    await two
      .waitForFunction(
        (w) => [...document.querySelectorAll('#log li')]
          .some((li) => li.textContent === w),
        { timeout: WAIT }, want)
      .catch(() => {
        throw new Error(`tab 2 never showed "${want}"`);
      });
    console.log(`browser: tab 2 shows "${want}"`);
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`browser: FAILED: ${e.message}`);
    process.exit(1);
  });
