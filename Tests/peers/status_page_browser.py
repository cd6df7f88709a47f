#!/usr/bin/env python3
"""Drives the gateway's status page in headless Chromium (Selenium + chromedriver), as a
technician would: sign in with a client token, see a device appear after a reading is posted,
replay a dead letter, sign out. Keeps a screenshot for review. Every wait is bounded by a count
of reloads, never by a timed assertion.

Prints one JSON line with what it saw; exits 0 when every step held, 1 naming the first that did not.
"""
import argparse
import json
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, WebDriverException
from selenium.webdriver.support.ui import WebDriverWait


def post(base, profile, token, body):
    request = urllib.request.Request(
        f"{base}/ingest/{profile}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status


def reload_until(driver, base, found, attempts):
    """Reloads the page until `found(driver)` is true, at most `attempts` times."""
    for _ in range(attempts):
        driver.get(base + "/")
        if found(driver):
            return True
    return False


def gone(element):
    """True once `element` left the document. Chromium's driver says so either as a stale
    element or, while the new page replaces the old one, as "Node with given id does not belong
    to the document"; `staleness_of` knows only the first and fails on the second."""
    def check(_driver):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True
    return check


def submit(driver, button, seconds=10):
    """Clicks a form's button and waits for the page it loads: a click returns before the
    browser has the answer, and reading the old page then is a race."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, seconds).until(gone(old))
    WebDriverWait(driver, seconds).until(lambda d: d.execute_script("return document.readyState") == "complete")


def has(driver, css):
    try:
        driver.find_element(By.CSS_SELECTOR, css)
        return True
    except NoSuchElementException:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--token", required=True, help="an operator's client token, to sign in")
    parser.add_argument("--ingest-token", required=True)
    parser.add_argument("--profile", default="demo-vitals")
    parser.add_argument("--device", required=True)
    parser.add_argument("--patient", required=True, help="a sentinel patient id that must not appear")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--attempts", type=int, default=100)
    args = parser.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=420,1600", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    driver.set_page_load_timeout(20)
    seen = {}
    step = "start"
    try:
        step = "sign-in form"
        driver.get(args.base + "/")
        field = driver.find_element(By.ID, "token")
        label = driver.find_element(By.CSS_SELECTOR, "label[for=token]")
        seen["label"] = label.text
        step = "sign in"
        field.send_keys(args.token)
        submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button"))
        who = driver.find_element(By.CSS_SELECTOR, ".who").text
        seen["signedIn"] = who
        if "Signed in as" not in who:
            raise AssertionError(f"not signed in: {who!r}")
        cookies = driver.get_cookies()
        seen["cookie"] = [{"httpOnly": c.get("httpOnly"), "sameSite": c.get("sameSite")} for c in cookies]

        step = "device appears"
        if has(driver, f"#device-table th[scope=row]") and args.device in driver.page_source:
            raise AssertionError("the device is listed before any reading")
        status = post(args.base, args.profile, args.ingest_token, {
            "deviceId": args.device, "patientId": args.patient, "measuredAt": "2026-11-27T08:00:00Z",
            "heartRate": 72, "spo2": 97, "battery": 81})
        seen["ingest"] = status
        if not reload_until(driver, args.base, lambda d: args.device in [e.text for e in d.find_elements(By.CSS_SELECTOR, "#device-table th[scope=row]")], args.attempts):
            raise AssertionError("the device never appeared")

        step = "dead letter appears"
        post(args.base, args.profile, args.ingest_token, {
            "deviceId": args.device, "patientId": args.patient, "measuredAt": "2026-11-27T08:00:01Z", "heartRate": "not a number"})
        if not reload_until(driver, args.base, lambda d: has(d, "#dead-letter-list button[value=replay]"), args.attempts):
            raise AssertionError("no dead letter with a replay button appeared")
        if args.patient in driver.page_source:
            raise AssertionError("the sentinel patient id is on the page")
        driver.save_screenshot(args.screenshot)
        seen["screenshot"] = args.screenshot

        step = "replay"
        button = driver.find_element(By.CSS_SELECTOR, "#dead-letter-list button[value=replay]")
        seen["replayButton"] = button.get_attribute("aria-label")
        submit(driver, button)
        notice = driver.find_element(By.CSS_SELECTOR, ".notice").text
        seen["notice"] = notice
        if "replayed" not in notice:
            raise AssertionError(f"no replay notice: {notice!r}")

        step = "sign out"
        submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/signout'] button"))
        if not has(driver, "#token"):
            raise AssertionError("signing out did not bring back the sign-in form")
        driver.get(args.base + "/")
        if not has(driver, "#token") or has(driver, "#device-table"):
            raise AssertionError("the page still shows the state after sign-out")
        seen["signedOut"] = True
    except Exception as error:  # noqa: BLE001 - the report names the step for the Swift test
        seen["failedStep"] = step
        seen["error"] = f"{type(error).__name__}: {str(error)[:200]}"
        seen["page"] = driver.page_source[:600]
        print(json.dumps(seen), flush=True)
        driver.quit()
        return 1
    driver.quit()
    print(json.dumps(seen), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
