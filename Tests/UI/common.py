"""What the dashboard's browser checks share (Tests/UI/run): the planter serve under test, the
headless chromium, and the checks' record."""
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLANTER = os.path.join(ROOT, os.environ.get("PLANTER", ".build/debug/planter"))
TOKEN = "ui-test-token-5d1f"

failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


class Server:
    def __init__(self, work, name="server", **extra):
        self.log_path = os.path.join(work, name + ".log")
        root = os.path.join(work, name + "-root")
        os.makedirs(root)
        environment = dict(os.environ, PLANTER_TOKEN=TOKEN, **extra)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([PLANTER, "serve", "--host", "127.0.0.1", "--port", "0", "--root", root],
                                        stdout=self.log, stderr=subprocess.STDOUT, env=environment)
        self.url = None
        for _ in range(600):
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", open(self.log_path).read())
            if match:
                self.url = match.group(1)
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        if not self.url:
            self.stop()
            raise SystemExit("ui-test: planter serve did not listen:\n" + open(self.log_path).read())

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method, path, body=None):
        status, data = self.request(method, path, body)
        return status, json.loads(data) if data else None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860",
                     "--force-prefers-reduced-motion"]:
        options.add_argument(argument)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def statuses(driver):
    return driver.execute_script(
        "const s = {}; for (const g of document.querySelectorAll('svg g.node[data-phase]')) s[g.dataset.phase] = g.dataset.status; return s;")


def brightness(css):
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)[:3]]
    return sum(numbers) / 3 if len(numbers) == 3 else -1


def click(driver, css, confirm=False):
    """Clicks the element (found again if the page re-rendered it meanwhile), and accepts the confirm() it asks."""
    for attempt in range(5):
        try:
            WebDriverWait(driver, 10).until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))).click()
            break
        except StaleElementReferenceException:
            time.sleep(0.2)
    if confirm:
        WebDriverWait(driver, 10).until(expected_conditions.alert_is_present())
        driver.switch_to.alert.accept()


def wait_until(driver, predicate, timeout, what):
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: predicate(d))
        return True
    except TimeoutException:
        print("     (timed out waiting for " + what + ")")
        return False


# Every fetch() the page makes, with when it was made and whether it has answered (its headers
# have come): installed before the page's own scripts run.
RECORD_REQUESTS = """
window.__requests = [];
const original = window.fetch;
window.fetch = function (url, options) {
  const entry = { url: String(url), at: performance.now(), done: false };
  window.__requests.push(entry);
  const answer = original.call(this, url, options);
  answer.then(() => { entry.done = true; }, () => { entry.done = true; });
  return answer;
};
"""


def record_requests(driver):
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_REQUESTS})


def requests_since(driver, seconds):
    """[url, answered] of the page's requests made in the last `seconds` or still waiting."""
    return driver.execute_script("const t = performance.now() - arguments[0] * 1000;"
                                 "return window.__requests.filter(r => r.at >= t || !r.done).map(r => [r.url, r.done]);", seconds)


def login(driver, url):
    driver.get(url + "/ui/")
    WebDriverWait(driver, 20).until(expected_conditions.visibility_of_element_located((By.ID, "token")))
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "login-submit").click()


def run_ended(server, run_id, timeout=30):
    """Polls GET /runs/<id> until the run has ended; its record (or the last one seen)."""
    run = {}
    for _ in range(int(timeout * 10)):
        _, run = server.json("GET", "/runs/" + run_id)
        if run and run.get("status") not in ("running", "pending"):
            break
        time.sleep(0.1)
    return run

