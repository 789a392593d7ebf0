"""The dashboard on a plan past PLANTER_GRAPH_MAX_NODES (Tests/UI/run): the plan's graph and a
run's graph drawn collapsed, by wave or by a label, each group with its count and status."""
import os

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from common import Server, browser, check, click, login, run_ended, wait_until

def collapsed(work, shots, plan):
    """A plan past PLANTER_GRAPH_MAX_NODES (3 here, 2,000 by default): one node per wave, and the table."""
    server = Server(work, "collapsed", PLANTER_GRAPH_MAX_NODES="3")
    driver = browser()
    try:
        status, _ = server.json("POST", "/plan?wait=true", plan)
        login(driver, server.url)
        waves = "return [...document.querySelectorAll('svg g.node')].map(g => [g.dataset.wave, g.dataset.count, g.dataset.status])"
        check(wait_until(driver, lambda d: len(d.execute_script(waves)) == 4, 30, "four waves"), "a large plan is drawn by wave")
        check(driver.execute_script(waves) == [[str(n), "1", "succeeded"] for n in range(1, 5)], "each wave with its count and status: %s" %
              driver.execute_script(waves))
        click(driver, 'svg g.node[data-wave="2"]')
        rows = lambda d: [r.text for r in d.find_elements(By.CSS_SELECTOR, "#phase-table tbody tr")]
        check(wait_until(driver, lambda d: rows(d) == ["build 2 succeeded"], 10, "the filtered table"),
              "a wave's node filters the table to its phases: %s" % rows(driver))
        _, rerun = server.json("POST", "/phases/slow/run")
        check(wait_until(driver, lambda d: [w[2] for w in d.execute_script(waves)] == ["succeeded", "succeeded", "running", "succeeded"],
                         15, "wave 3 running"), "a wave's node turns running live")
        driver.save_screenshot(os.path.join(shots, "collapsed.png"))
        # The run's page draws its revision collapsed too, coloured with that run's statuses
        # (slow alone: the other waves were left out of it), not the plan's.
        run_ended(server, rerun["runId"])
        driver.get(server.url + "/ui/#/runs/" + rerun["runId"])
        run_waves = waves.replace("'svg g.node'", "'#run-graph svg g.node'")
        expected = [["1", "1", "skipped"], ["2", "1", "skipped"], ["3", "1", "succeeded"], ["4", "1", "skipped"]]
        check(wait_until(driver, lambda d: d.execute_script(run_waves) == expected, 20, "the run's waves"),
              "a run's page draws the collapsed graph with its counts and that run's statuses: %s" % driver.execute_script(run_waves))
        check(bool(driver.find_elements(By.ID, "run-graph-note")), "and says the nodes are waves")
        driver.save_screenshot(os.path.join(shots, "collapsed-run.png"))
        driver.get(server.url + "/ui/#/")
        check(wait_until(driver, lambda d: len(d.execute_script(waves)) == 4, 30, "the plan's waves again"), "back on the plan")
        # Grouped by a label instead: one node per value of the phases' executor label.
        Select(WebDriverWait(driver, 10).until(expected_conditions.element_to_be_clickable((By.ID, "group-by")))).select_by_value(
            "label:executor")
        groups = "return [...document.querySelectorAll('svg g.node')].map(g => [g.dataset.label, g.dataset.value, g.dataset.count])"
        check(wait_until(driver, lambda d: d.execute_script(groups) == [["executor", "shell", "4"]], 30, "one label group"),
              "the collapsed graph groups by a label the user picks: %s" % driver.execute_script(groups))
        click(driver, 'svg g.node[data-label="executor"]')
        check(wait_until(driver, lambda d: len(rows(d)) == 4, 10, "the label's phases"),
              "a label group's node filters the table to its phases: %s" % rows(driver))
        driver.save_screenshot(os.path.join(shots, "collapsed-by-label.png"))
        # The run's page groups as the plan's page was last grouped: one node, the most urgent status in the run.
        driver.get(server.url + "/ui/#/runs/" + rerun["runId"])
        run_groups = groups.replace("'svg g.node'", "'#run-graph svg g.node'").replace("g.dataset.count]", "g.dataset.count, g.dataset.status]")
        check(wait_until(driver, lambda d: d.execute_script(run_groups) == [["executor", "shell", "4", "succeeded"]], 20, "the run's label group"),
              "a run's page groups by the label picked: %s" % driver.execute_script(run_groups))
    finally:
        driver.quit()
        server.stop()
