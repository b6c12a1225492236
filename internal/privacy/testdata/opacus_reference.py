#!/usr/bin/python3
"""Reference ε and σ from Opacus's own accountant code, for rdp_test.go.

Runs Opacus's opacus/accountants/analysis/rdp.py (copied verbatim into
opacus_rdp.py, commit 4d0ebc84613d214fbfd37fbfd1390e3747a625ce) with
RDPAccountant's default orders and get_noise_multiplier's bisection, both
reproduced below with their file and line (they import the rest of Opacus,
which is not installed here). Needs numpy and scipy (Debian: python3-numpy,
python3-scipy). Regenerate:

    cd internal/privacy/testdata && /usr/bin/python3 opacus_reference.py > opacus_reference.txt
"""

import math
import warnings

import numpy as np
import scipy

import opacus_rdp as privacy_analysis

warnings.simplefilter("ignore")  # get_privacy_spent warns when the best order is an end one

# opacus/accountants/rdp.py line 22
DEFAULT_ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def get_epsilon(history, delta, alphas=DEFAULT_ALPHAS):
    """RDPAccountant.get_privacy_spent, opacus/accountants/rdp.py lines 46-68."""
    if not history:
        return 0, 0
    rdp = sum(
        [
            privacy_analysis.compute_rdp(
                q=sample_rate,
                noise_multiplier=noise_multiplier,
                steps=num_steps,
                orders=alphas,
            )
            for (noise_multiplier, sample_rate, num_steps) in history
        ]
    )
    eps, best_alpha = privacy_analysis.get_privacy_spent(
        orders=alphas, rdp=rdp, delta=delta
    )
    return float(eps), float(best_alpha)


MAX_SIGMA = 1e6  # opacus/accountants/utils.py line 20


def get_noise_multiplier(target_epsilon, target_delta, sample_rate, steps, epsilon_tolerance=0.01):
    """get_noise_multiplier, opacus/accountants/utils.py lines 23-78 (steps given)."""
    eps_high = float("inf")
    sigma_low, sigma_high = 0, 10
    while eps_high > target_epsilon:
        sigma_high = 2 * sigma_high
        eps_high, _ = get_epsilon([(sigma_high, sample_rate, steps)], target_delta)
        if sigma_high > MAX_SIGMA:
            raise ValueError("The privacy budget is too low.")
    while target_epsilon - eps_high > epsilon_tolerance:
        sigma = (sigma_low + sigma_high) / 2
        eps, _ = get_epsilon([(sigma, sample_rate, steps)], target_delta)
        if eps < target_epsilon:
            sigma_high = sigma
            eps_high = eps
        else:
            sigma_low = sigma
    return sigma_high


def main():
    print("# Opacus's RDP accountant (commit 4d0ebc84613d214fbfd37fbfd1390e3747a625ce), by opacus_reference.py")
    print(f"# numpy {np.__version__}, scipy {scipy.__version__}")
    print("# spend q sigma steps delta epsilon order")
    print("# noise target_epsilon delta q steps epsilon_tolerance sigma epsilon_at_sigma (or: unreachable)")
    # MNIST at batch 256 (q = 256/60000, 234 steps an epoch), Abadi et al.'s
    # q = 0.01, and the ends of the range: a tiny q, large q, q = 1.
    for q in [1e-4, 256 / 60000, 0.01, 0.1, 0.5, 1.0]:
        for sigma in [0.5, 0.8, 1.0, 2.0, 5.0]:
            for steps in [1, 100, 2340, 20000]:
                for delta in [1e-5, 1e-8]:
                    eps, order = get_epsilon([(sigma, q, steps)], delta)
                    print(f"spend {q!r} {sigma!r} {steps} {delta!r} {eps!r} {order!r}")
    for q, steps in [(256 / 60000, 234 * 5), (256 / 60000, 234 * 30), (0.01, 1000), (0.1, 50)]:
        for target in [0.5, 1.0, 3.0, 8.0]:
            tol = min(0.01, 0.01 * target)  # the rule NoiseMultiplier uses
            delta = 1e-5
            try:
                sigma = get_noise_multiplier(target, delta, q, steps, epsilon_tolerance=tol)
            except ValueError:
                print(f"noise {target!r} {delta!r} {q!r} {steps} {tol!r} unreachable")
                continue
            eps, _ = get_epsilon([(sigma, q, steps)], delta)
            print(f"noise {target!r} {delta!r} {q!r} {steps} {tol!r} {sigma!r} {eps!r}")
    # Below the floor that δ and the orders set: Opacus raises.
    for target in [0.05]:
        try:
            sigma = get_noise_multiplier(target, 1e-5, 0.01, 1000, epsilon_tolerance=0.01 * target)
            print(f"noise {target!r} 1e-05 0.01 1000 {0.01 * target!r} {sigma!r}")
        except ValueError:
            print(f"noise {target!r} 1e-05 0.01 1000 {0.01 * target!r} unreachable")


if __name__ == "__main__":
    main()
