"""The planted effect of `calibrate_runs --effect E --on metric`, fitted as an analyst would.

    cargo run --release --locked --example calibrate_runs -- --effect 0.3 --on metric \
        --accounts 1000 --months 48 --datasets 1 --keep --dir /tmp/planted
    python examples/support/planted_effect.py /tmp/planted/run-0

A discrete-time hazard: every account-month t at which the account paid in t - 1, churned
when it does not pay in t, on its core-task count three months earlier (`log(1 + count)`,
standardised within the month), with month effects, statsmodels `Logit` with errors clustered
by account. The coefficient should be close to -E; its z is what an oracle test that knows the
lag and the outcome gets, an upper bound for nsm's account line (which knows neither).
Needs pandas and statsmodels; not part of the test suite.
"""

import sys

import numpy as np
import pandas as pd
import statsmodels.api as sm


def main(directory: str) -> None:
    events = pd.read_csv(f"{directory}/events.csv", usecols=["timestamp", "account_id", "event"])
    events = events[events.event == "event_0"]
    stamp = pd.to_datetime(events.timestamp)
    events = events.assign(month=stamp.dt.year * 12 + stamp.dt.month)
    tasks = events.groupby(["account_id", "month"]).size()
    revenue = pd.read_csv(f"{directory}/revenue.csv")
    date = pd.to_datetime(revenue.date)
    revenue = revenue.assign(month=date.dt.year * 12 + date.dt.month)
    last = revenue.month.max()
    rows = []
    for account, paid in revenue.groupby("customer_id"):
        months = set(paid.month)
        start = min(months)
        for t in range(start + 1, last + 1):
            if t - 1 not in months:
                break
            count = tasks.get((account, max(t - 3, start)), 0)
            rows.append((account, t, int(t not in months), np.log1p(count)))
    panel = pd.DataFrame(rows, columns=["account", "month", "churned", "use"])
    panel["use_sd"] = panel.groupby("month").use.transform(lambda u: (u - u.mean()) / u.std())
    design = pd.get_dummies(panel.month, prefix="m", drop_first=True).astype(float)
    design["use_sd"] = panel.use_sd
    design = sm.add_constant(design)
    groups = pd.factorize(panel.account)[0]
    fit = sm.Logit(panel.churned, design).fit(
        disp=0, maxiter=200, cov_type="cluster", cov_kwds={"groups": groups}
    )
    print(
        f"{len(panel)} account-months, {int(panel.churned.sum())} churned: "
        f"{fit.params['use_sd']:.3f} log-odds of churn per SD of the task count 3 months earlier "
        f"(cluster-robust se {fit.bse['use_sd']:.3f}, z {fit.tvalues['use_sd']:.2f})"
    )


if __name__ == "__main__":
    main(sys.argv[1])
