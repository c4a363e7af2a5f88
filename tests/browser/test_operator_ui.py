"""The operator UI in a real browser: headless Chromium (Debian's chromium + chromium-driver) against the
live server on loopback. Logs in, opens the dashboard, opens a suggestion's review page, accepts it and
checks the lane it made. Saves docs/screenshots/dashboard.png and review.png (linked from README).

Skipped, with the reason, only when no Chromium or chromedriver is installed (scripts/test.sh installs
them on Debian when run as root).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from patterns.models import DedicatedLane, DedicatedLaneSuggestion, SuggestionStatus, TriggerReason
from patterns.services import analyze_patterns
from tests.patterns.lane_data import build_lane_data

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="no Chromium/chromedriver here: apt-get install chromium chromium-driver (scripts/test.sh does as root)",
    ),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def _full_page_screenshot(driver: Any, name: str) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height), 800), 4000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    driver.set_window_size(1400, 1000)
    return path


def test_a_planner_reviews_and_accepts_a_suggestion_from_the_dashboard(live_server: Any, browser: Any, redis_conn):
    from selenium.webdriver.common.by import By

    data = build_lane_data()
    result = analyze_patterns(organization_id=data.org.pk, trigger_reason=TriggerReason.MANUAL)
    assert result.suggestions_created >= 2
    get_user_model().objects.create_user("planner", password="pw-planner-1", is_staff=True, is_superuser=True)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
    browser.find_element(By.NAME, "username").send_keys("planner")
    browser.find_element(By.NAME, "password").send_keys("pw-planner-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    assert browser.current_url.endswith("/admin/dashboard/")
    assert "Operator dashboard" in browser.title
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.tj-suggestion")
    pending = DedicatedLaneSuggestion.objects.filter(status=SuggestionStatus.PENDING).count()
    assert len(rows) == min(pending, 10) and pending >= result.suggestions_created
    assert browser.find_elements(By.CSS_SELECTOR, "#tj-suggestions svg")  # the weekly sparklines
    assert browser.find_elements(By.ID, "tj-no-worker")  # no worker runs in this test: the banner says so
    shot = _full_page_screenshot(browser, "dashboard.png")
    assert shot.stat().st_size > 10_000

    top = DedicatedLaneSuggestion.objects.get(pk=rows[0].get_attribute("data-suggestion"))
    rows[0].find_element(By.TAG_NAME, "a").click()
    assert "Review suggestion" in browser.title
    page = browser.page_source
    for part in ("Frequency", "Recency", "Regularity", "Value", "Weeks active"):
        assert part in page, part
    assert browser.find_elements(By.CSS_SELECTOR, "#accept-form")
    _full_page_screenshot(browser, "review.png")

    name = browser.find_element(By.CSS_SELECTOR, "#accept-form input[name=name]")
    name.clear()
    name.send_keys("Browser test lane")
    browser.find_element(By.CSS_SELECTOR, "#accept-form input[type=submit]").click()

    lane = DedicatedLane.objects.get(name="Browser test lane")
    top.refresh_from_db()
    assert top.status == SuggestionStatus.ACCEPTED
    assert (lane.origin_location_id, lane.destination_location_id, lane.customer_id) == (
        top.origin_location_id,
        top.destination_location_id,
        top.customer_id,
    )
    assert browser.current_url.endswith(f"/admin/patterns/dedicatedlane/{lane.pk}/change/")
    assert "Browser test lane" in browser.page_source
