"""What each coupling loss asks of the network, found by minimising the library's own losses (issue 16).

1. **AU side of distribution matching.** One AU image (a batch of copies is the same problem): all
   17 AUs coded, AU b labelled present, the others absent, so `masked_bce` weighs each AU β = 1/17;
   DM (eq. 4) over Du et al.'s binary relatedness, as configs/paper_affect.yaml, with weight
   λ = 1/17 (configured) or 1. b is AU12 (linked to happiness only) or AU14 (linked to no
   expression in Du's table). The 17 AU logits (and, when free, the 7 expression logits) are
   minimised by Adam on masked_bce + λ·DM; the table gives p(AU b) there. Expression side:
   - `fixed`: the expression prediction is a constant, uniform over the 7 classes (q(AU12) = 1/7,
     q(AU14) = 0 → clamped to 1e-6): "given q_b". The closed form (docs/coupling.md)
     p* = min(1, β / (λ·c)), c = −log q (paper) or −logit q (bernoulli), p* = 1 when c ≤ 0 or no DM
     gradient reaches p_b, is checked against the numerical optimum.
   - `free`: the expression logits are unlabelled parameters too (an AU-only image), so grad_to
     decides whether DM may move the expression instead of the AU.
2. **Expression side (grad_to multiclass: the AU predictions teach the expression head).** For the
   textbook face of each expression (its Du AUs at p = 0.9, the others 0.1) and a face with no AU
   on (all 0.1), the expression distribution that minimises DM alone.
3. **Soft co-annotation (eq. 6–7).** For each expression's textbook AU labels (its Du AUs 1, the
   others 0), the soft label's top class and probability at temperatures T; and the minimiser of
   eq. 7's paper form (one-hot at arg-max q?) and of the KL form (p = q?).

Run: .venv/bin/python benchmarks/dm_optimum.py
Prints the tables and writes benchmarks/results/dm_optimum.json. Deterministic (no data, no seeds).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import torch

from benchlib import machine, write_result
from facebehavior.labels import AU_NAMES, EXPRESSIONS
from facebehavior.losses import distribution_matching, masked_bce, soft_coannotation, soft_coannotation_target
from facebehavior.relatedness import load_relatedness

FORMS = ("paper", "bernoulli")
GRAD_TO = ("both", "multilabel", "multiclass")
UNLINKED = ("keep", "drop")
LAMBDAS = {"1/17": 1 / 17, "1": 1.0}
AUS = {"AU12 (linked)": "au12", "AU14 (unlinked)": "au14"}
EXPRESSION_SIDES = ("fixed", "free")
TEMPERATURES = (1.0, 0.5, 0.25, 0.1)
STEPS, LR = 3000, 0.05
CLAMP = 1e-6  # the loss's clamp of q


def du_binary() -> torch.Tensor:
    return torch.from_numpy(load_relatedness("du2014").matrix("binary")).float()


def minimise(loss_fn, params: list[torch.Tensor]) -> None:
    """Adam on `params` (in place); enough steps that an interior optimum is reached to < 1e-3."""
    opt = torch.optim.Adam(params, lr=LR)
    for _ in range(STEPS):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()


def au_optimum(rel, au: str, lam: float, form: str, grad_to: str, unlinked: str, side: str) -> float:
    """p(AU au) at the minimum of masked_bce + λ·DM for an image with `au` present, the others absent."""
    j = AU_NAMES.index(au)
    labels = torch.zeros(1, len(AU_NAMES))
    labels[0, j] = 1.0
    logits_b = torch.zeros(1, len(AU_NAMES), requires_grad=True)
    logits_a = torch.zeros(1, len(EXPRESSIONS), requires_grad=side == "free")
    params = [logits_b] + ([logits_a] if side == "free" else [])

    def total():
        return masked_bce(logits_b, labels) + lam * distribution_matching(logits_a, logits_b, rel, form, grad_to,
                                                                           unlinked)

    minimise(total, params)
    return torch.sigmoid(logits_b[0, j]).item()


def closed_form(q: float, beta: float, lam: float, form: str, grad_to: str, dropped: bool) -> float:
    """Minimiser over p of −β log p + λ·p·c (eq. 4 is linear in p once q is fixed): min(1, β / (λ c))."""
    if grad_to == "multiclass" or dropped:
        return 1.0
    q = min(max(q, CLAMP), 1 - CLAMP)
    c = -math.log(q) if form == "paper" else -math.log(q / (1 - q))
    return 1.0 if c <= 0 else min(1.0, beta / (lam * c))


def au_side(rel) -> list[dict]:
    rows = []
    q_uniform = (rel.sum(0) / len(EXPRESSIONS)).tolist()
    for form, grad_to, unlinked, side, (lam_name, lam), (au_name, au) in itertools.product(
            FORMS, GRAD_TO, UNLINKED, EXPRESSION_SIDES, LAMBDAS.items(), AUS.items()):
        p = au_optimum(rel, au, lam, form, grad_to, unlinked, side)
        row = {"form": form, "grad_to": grad_to, "unlinked": unlinked, "expression": side, "lambda": lam_name,
               "au": au_name, "p_opt": p}
        if side == "fixed":
            j = AU_NAMES.index(au)
            dropped = unlinked == "drop" and rel[:, j].sum() == 0
            row["q"] = q_uniform[j]
            row["p_closed_form"] = closed_form(q_uniform[j], 1 / len(AU_NAMES), lam, form, grad_to, dropped)
            assert abs(p - row["p_closed_form"]) < 2e-3, row  # the arithmetic of docs/coupling.md holds
        rows.append(row)
    return rows


def textbook_faces(rel, on: float, off: float) -> dict[str, torch.Tensor]:
    """Each expression's Du AUs at `on`, the others at `off`; plus a face with no AU on."""
    faces = {e: torch.where(rel[i] > 0, on, off)[None] for i, e in enumerate(EXPRESSIONS) if rel[i].any()}
    faces["no AU on"] = torch.full((1, len(AU_NAMES)), off)
    return faces


def expression_side(rel) -> list[dict]:
    """What DM alone (grad_to multiclass) asks of the expression head, for fixed AU predictions."""
    rows = []
    for form, (face, p_b) in itertools.product(FORMS, textbook_faces(rel, 0.9, 0.1).items()):
        logits_b = torch.log(p_b / (1 - p_b))
        logits_a = torch.zeros(1, len(EXPRESSIONS), requires_grad=True)
        minimise(lambda: distribution_matching(logits_a, logits_b, rel, form, "multiclass"), [logits_a])
        p_a = torch.softmax(logits_a.detach(), 1)[0]
        top = int(p_a.argmax())
        rows.append({"form": form, "face": face, "argmax": EXPRESSIONS[top], "p_argmax": p_a[top].item(),
                     "p_neutral": p_a[EXPRESSIONS.index("neutral")].item()})
    return rows


def sca_targets(weights) -> list[dict]:
    rows = []
    for face, y in textbook_faces(weights, 1.0, 0.0).items():
        for t in TEMPERATURES:
            q = soft_coannotation_target(y, weights, "zero", t)[0]
            top = int(q.argmax())
            uniform = bool(q.max() - q.min() < 1e-6)  # then the arg-max is only the first class
            rows.append({"face": face, "temperature": t, "argmax": "uniform" if uniform else EXPRESSIONS[top],
                         "p_argmax": q[top].item()})
    return rows


def sca_minimisers(weights) -> dict:
    """Eq. 7 alone, minimised over the expression logits, for the happiness textbook labels at T = 1."""
    y = textbook_faces(weights, 1.0, 0.0)["happiness"]
    q = soft_coannotation_target(y, weights)[0]
    out = {"q": dict(zip(EXPRESSIONS, q.tolist()))}
    for form in ("paper", "kl"):
        logits_a = torch.zeros(1, len(EXPRESSIONS), requires_grad=True)
        minimise(lambda: soft_coannotation(logits_a, y, weights, form), [logits_a])
        out[form] = dict(zip(EXPRESSIONS, torch.softmax(logits_a.detach(), 1)[0].tolist()))
    return out


def print_au_table(rows: list[dict]) -> None:
    cols = list(itertools.product(EXPRESSION_SIDES, LAMBDAS, AUS))
    head = " | ".join(f"{s} λ={lam} {au.split()[0]}" for s, lam, au in cols)
    print(f"| form | grad_to | unlinked | {head} |")
    print("|---|---|---|" + "---|" * len(cols))
    index = {(r["form"], r["grad_to"], r["unlinked"], r["expression"], r["lambda"], r["au"]): r["p_opt"] for r in rows}
    for form, grad_to, unlinked in itertools.product(FORMS, GRAD_TO, UNLINKED):
        cells = " | ".join(f"{index[(form, grad_to, unlinked, s, lam, au)]:.3f}" for s, lam, au in cols)
        print(f"| {form} | {grad_to} | {unlinked} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results/dm_optimum.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    rel = du_binary()
    weighted = torch.from_numpy(load_relatedness("du2014").matrix("weighted")).float()
    result = {"command": ".venv/bin/python benchmarks/dm_optimum.py", "relatedness": "du2014",
              "setting": {"aus_coded": len(AU_NAMES), "beta": 1 / len(AU_NAMES), "optimiser": f"Adam lr {LR}",
                          "steps": STEPS, "q_clamp": CLAMP},
              "au_side": au_side(rel), "expression_side": expression_side(rel),
              "sca_targets": sca_targets(weighted), "sca_minimisers": sca_minimisers(weighted)}
    print("p(AU b) at the optimum of masked_bce + λ·DM (AU b present; Du binary; fixed: uniform expression)")
    print_au_table(result["au_side"])
    print("\nDM alone over the expression logits (grad_to multiclass): the face's AUs 0.9, the others 0.1")
    print("| form | face | arg-max | p(arg-max) | p(neutral) |\n|---|---|---|---|---|")
    for r in result["expression_side"]:
        print(f"| {r['form']} | {r['face']} | {r['argmax']} | {r['p_argmax']:.3f} | {r['p_neutral']:.3f} |")
    print("\nsoft co-annotation target (eq. 6, weighted Du): top class and its probability per temperature")
    faces = dict.fromkeys(r["face"] for r in result["sca_targets"])
    print("| face | " + " | ".join(f"T={t}" for t in TEMPERATURES) + " |\n|---|" + "---|" * len(TEMPERATURES))
    for face in faces:
        cells = [f"{r['argmax']} {r['p_argmax']:.2f}" for r in result["sca_targets"] if r["face"] == face]
        print(f"| {face} | " + " | ".join(cells) + " |")
    m = result["sca_minimisers"]
    print("\neq. 7 minimised over p (happiness labels, T = 1): " +
          "; ".join(f"{k}: " + ", ".join(f"{e} {v:.2f}" for e, v in m[k].items()) for k in ("q", "paper", "kl")))
    result["machine"] = machine(torch=torch.__version__, threads=1)
    result["seconds"] = round(time.perf_counter() - start, 1)
    write_result(args.out, result, indent=1)


if __name__ == "__main__":
    main()
