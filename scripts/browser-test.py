#!/usr/bin/env python3
"""Drives the radio page of a running jukebox-server in real headless Chromium.

Usage: scripts/browser-test.py URL SCREENSHOT_PATH

URL is the server's HTTP address (http://127.0.0.1:PORT/). The test loads the page, checks
that it shows what /status.json says is on the air and the whole library (titles as text,
never as markup), searches it without regard to case or accents, presses play and waits
until the <audio> element really decodes the live /radio stream, requests two songs and
waits until the queue shown holds them (marked as the visitor's own), then saves a
screenshot to SCREENSHOT_PATH.

Needs Debian's chromium and chromium-driver and the Python selenium package; scripts/deps.sh
installs them (selenium into target/browser-venv). CHROMIUM and CHROMEDRIVER override the
binaries' paths.

Exit status: 0 when every check passed; 1 with a message naming the failed check (and a
screenshot of that moment beside SCREENSHOT_PATH); 77 when a prerequisite is missing.
"""

import json
import os
import shutil
import sys
import time
import unicodedata
import urllib.error
import urllib.request

SKIP = 77
TIMEOUT = 30  # seconds for any one thing to happen


def log(message):
    print(f"browser-test: {message}", flush=True)


class Failed(Exception):
    pass


try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    log(f"the Python selenium package is missing for {sys.executable}: run scripts/deps.sh test, "
        "then use target/browser-venv/bin/python")
    sys.exit(SKIP)


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.load(response)


def fold(text):
    """What the page's search compares: lower case, accents dropped (NFD, marks removed)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.category(c).startswith("M")).lower()


def start_browser():
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    for path, package in ((chromium, "chromium"), (chromedriver, "chromium-driver")):
        if not os.access(path, os.X_OK):
            log(f"{path} is missing: install Debian's {package} (scripts/deps.sh test)")
            sys.exit(SKIP)
    # Both paths are given, so selenium never tries to download a browser or a driver.
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_window_size(1280, 900)
    # The window's 900 px include the browser's frame: make the page itself 1280 x 900.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    driver.set_page_load_timeout(TIMEOUT)
    return driver


class Page:
    def __init__(self, driver, base):
        self.driver = driver
        self.base = base

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what, condition, timeout=TIMEOUT):
        """Polls `condition` every 250 ms until it returns something true; fails naming `what`."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(lambda _d: condition())
        except TimeoutException:
            raise Failed(f"waited {timeout} s for {what}") from None

    def text(self, css):
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)

    def queue_titles(self):
        return self.js("return [...document.querySelectorAll('#queue li .title')].map(e => e.textContent);")

    def toasts(self):
        return self.js("return [...document.querySelectorAll('#toasts .toast')].map(e => e.textContent);")

    def current_time(self):
        return self.js("return document.getElementById('player').currentTime;")

    def describe(self):
        """What the page shows, for a failure message."""
        try:
            return json.dumps(self.js("""
                const q = (s) => [...document.querySelectorAll(s)].map(e => e.textContent.trim());
                const p = document.getElementById('player');
                return {now: q('#now-title')[0], queue: q('#queue li .title'), toasts: q('#toasts .toast-text'),
                        player: {currentTime: p.currentTime, paused: p.paused, readyState: p.readyState,
                                 networkState: p.networkState, error: p.error && p.error.code, src: p.currentSrc},
                        reconnecting: !document.getElementById('connection').hidden};
            """), ensure_ascii=False)
        except WebDriverException as e:
            return f"(the page could not be read: {e.msg})"


def check_now_playing(page):
    def shows_status_title():
        title = (get_json(page.base, "/status.json").get("now") or {}).get("title")
        shown = page.text("#now-title")
        return title if title and shown == title else None

    title = page.wait("the now-playing title to show status.json's now.title", shows_status_title)
    log(f"ok: now playing shows {title!r}, as /status.json says")


def check_library(page):
    library = get_json(page.base, "/library.json")
    if not library:
        raise Failed("/library.json lists no songs")
    expected = [s["title"] for s in library]
    page.wait(f"the library to list the {len(expected)} songs of /library.json",
              lambda: page.js("return [...document.querySelectorAll('#library li .title')].map(e => e.textContent);")
              == expected)
    # Titles are text: a title holding "<b>" must not have become a <b> element.
    marked_up = page.js(
        "return [...document.querySelectorAll('#library .title, #library .artist, #queue .title, #now-title,"
        " #now-artist, #now-album')].filter(e => [...e.children].some(c => !c.matches('span.album'))).length;")
    if marked_up:
        raise Failed(f"{marked_up} titles were inserted as HTML, not as text")
    log(f"ok: the library lists all {len(expected)} songs, as text")
    return library


def check_search(page, library):
    song = max(library, key=lambda s: sum(ord(c) > 127 for c in s["title"] + s["artist"]))
    words = [w for w in song["title"].split() if len(fold(w)) >= 3 and fold(w).isalnum()] or [song["title"]]
    query = fold(words[0]).upper()  # accents gone and the case changed: must still match
    expected = {s["id"] for s in library if fold(query) in fold(f"{s['title']} {s['artist']} {s['album']}")}
    box = page.driver.find_element(By.ID, "search")
    box.click()
    box.send_keys(query)
    visible = "return [...document.querySelectorAll('#library li')].filter(e => !e.hidden).map(e => Number(e.dataset.id));"
    page.wait(f"searching {query!r} to show songs {sorted(expected)}", lambda: set(page.js(visible)) == expected)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    page.wait("an empty search to show every song", lambda: len(page.js(visible)) == len(library))
    log(f"ok: searching {query!r} finds {song['title']!r} (case and accents ignored)")


def check_playback(page):
    page.driver.find_element(By.ID, "play").click()
    try:
        first = page.wait("the <audio> element to play past 1 s of /radio", lambda: (t := page.current_time()) > 1.0 and t)
    except Failed as e:
        raise Failed(f"{e}; the player is at {page.current_time():.2f} s") from None
    page.wait(f"playback to go on past {first + 1:.2f} s", lambda: page.current_time() > first + 1.0)
    if page.js("const p = document.getElementById('player'); return p.paused || p.error !== null;"):
        raise Failed("the player paused or reported an error while playing")
    pressed = page.js("return document.getElementById('play').getAttribute('aria-pressed');")
    if pressed != "true":
        raise Failed(f"the play button says aria-pressed={pressed} while playing")
    log(f"ok: the player decodes /radio: currentTime went from {first:.2f} s to {page.current_time():.2f} s")


def check_progress_moves(page):
    before = page.js("return document.getElementById('progress-fill').style.transform;")
    page.wait("the progress bar to move on", lambda: page.js(
        "return document.getElementById('progress-fill').style.transform;") != before, timeout=5)
    log("ok: the progress bar moves between status events")


def request_song(page, exclude):
    """Requests a song that is neither on the air nor queued; returns its title."""
    def settled():
        status = get_json(page.base, "/status.json")
        now = status.get("now")
        # A song about to end takes the next one with it (the station encodes ahead): wait.
        if now and now["duration_ms"] - now["elapsed_ms"] < 5000:
            return None
        return status
    status = page.wait("a song with more than 5 s left on the air", settled, timeout=45)
    busy = {e["id"] for e in status["queue"]} | ({status["now"]["id"]} if status["now"] else set())
    library = get_json(page.base, "/library.json")
    candidates = [s for s in library if s["id"] not in busy and s["id"] not in exclude]
    if not candidates:
        raise Failed(f"no song to request: all of {[s['id'] for s in library]} are busy")
    song = candidates[0]
    button = f"#library button.request[data-id='{song['id']}']"
    page.wait(f"the Request button of {song['title']!r} to be enabled",
              lambda: page.js(f"const b = document.querySelector(\"{button}\"); return b && !b.disabled;"))
    toasts_before = len(page.toasts())
    page.driver.find_element(By.CSS_SELECTOR, button).click()
    toast = page.wait("a toast with the server's answer",
                      lambda: page.js("return [...document.querySelectorAll('#toasts .toast')].slice(arguments[0])"
                                      ".map(e => [e.className, e.querySelector('.toast-text').textContent]);", toasts_before) or None)
    kind, message = toast[-1]
    if "toast-ok" not in kind:
        raise Failed(f"the request for {song['title']!r} was refused: {message!r}")
    try:
        page.wait(f"the queue to show {song['title']!r}", lambda: song["title"] in page.queue_titles(), timeout=10)
    except Failed:
        # The song may have gone on the air at once, if the one playing ended meanwhile.
        if page.text("#now-title") != song["title"]:
            raise
        log(f"note: {song['title']!r} went on the air at once")
        return song
    mine = page.js("return [...document.querySelectorAll('#queue li')].filter(li => li.dataset.id == arguments[0])"
                   ".map(li => li.classList.contains('mine'))[0];", str(song["id"]))
    if not mine:
        raise Failed(f"the queue shows {song['title']!r}, which this visitor asked for, without the 'mine' mark")
    if not page.js(f"return document.querySelector(\"{button}\").disabled;"):
        raise Failed(f"the Request button of the queued {song['title']!r} is still enabled")
    log(f"ok: requested {song['title']!r}: the toast said {message!r}; the queue shows it as mine")
    return song


def check_console(page):
    try:
        entries = page.driver.get_log("browser")
    except WebDriverException:
        return
    errors = [e["message"] for e in entries
              if e.get("level") == "SEVERE" and "Failed to load resource" not in e.get("message", "")]
    if errors:
        raise Failed("the page logged errors: " + " | ".join(errors))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base = sys.argv[1].rstrip("/")
    screenshot = sys.argv[2]
    try:
        status = get_json(base, "/status.json")
    except (OSError, ValueError) as e:
        log(f"FAIL: {base}/status.json cannot be read: {e}")
        return 1
    log(f"{base}: {status.get('server')}, {status.get('songs')} songs")

    try:
        driver = start_browser()
    except WebDriverException as e:
        log(f"FAIL: Chromium did not start through chromedriver: {e.msg}")
        return 1
    page = Page(driver, base)
    try:
        driver.get(base + "/")
        check_now_playing(page)
        library = check_library(page)
        check_search(page, library)
        check_playback(page)
        check_progress_moves(page)
        first = request_song(page, exclude=set())
        request_song(page, exclude={first["id"]})
        page.wait("the queue to show the requests", lambda: len(page.queue_titles()) >= 1)
        check_console(page)
        driver.execute_script("window.scrollTo(0, 0);")
        ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, ".brand h1")).perform()
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        if not driver.save_screenshot(screenshot):
            raise Failed(f"the screenshot could not be saved to {screenshot}")
        log(f"ok: screenshot saved to {screenshot}")
        log("PASS")
        return 0
    except (Failed, WebDriverException, OSError, ValueError) as e:
        message = e.msg if isinstance(e, WebDriverException) else str(e)
        log(f"FAIL: {message}")
        log(f"the page shows: {page.describe()}")
        failed = os.path.splitext(screenshot)[0] + "-failed.png"
        try:
            driver.save_screenshot(failed)
            log(f"a screenshot of the failure is in {failed}")
        except WebDriverException:
            pass
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
