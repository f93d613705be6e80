"""Hand-checked (response, ground truth, correct?) pairs through the reward, plus its contract."""

import pytest

from erpo.rewards import compute_score

B = "\\boxed{%s}"
# (data_source, model response, ground truth, expected correct)
CASES = [
    # integers and formatting
    ("math500", B % "72", "72", True),
    ("math500", B % "72", "73", False),
    ("math500", B % "-5", "-5", True),
    ("math500", B % "5", "-5", False),
    ("math500", B % "1,000", "1000", True),
    ("math500", B % "1000", "1,000", True),
    ("amc23", B % "142", "142.0", True),
    ("amc23", B % "142.0", "142", True),
    ("amc23", B % "143", "142.0", False),
    ("math500", "The answer is " + B % "\\text{ 12 }", "12", True),
    # fractions and decimals
    ("math500", B % "\\frac{1}{2}", "0.5", True),
    ("math500", B % "\\dfrac{1}{2}", "\\frac12", True),
    ("math500", B % "1/2", "\\frac{1}{2}", True),
    ("math500", B % "\\frac{2}{4}", "\\frac{1}{2}", True),
    ("math500", B % "\\frac{1}{3}", "0.33", False),
    ("math500", B % "0.25", "\\frac{1}{4}", True),
    ("math500", B % "\\frac{3}{2}", "1.5", True),
    ("math500", B % "-\\frac{3}{4}", "-0.75", True),
    ("math500", B % "\\frac{3}{4}", "-0.75", False),
    # radicals, pi, expressions
    ("math500", B % "2\\sqrt{2}", "\\sqrt{8}", True),
    ("math500", B % "\\sqrt{2}", "\\sqrt{3}", False),
    ("math500", B % "4\\pi", "4 \\pi", True),
    ("math500", B % "\\pi", "3.14", False),
    ("math500", B % "x^2+2x+1", "(x+1)^2", True),
    ("math500", B % "x^2+1", "(x+1)^2", False),
    ("math500", B % "2^{10}", "1024", True),
    ("math500", B % "\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", True),
    # units and text
    ("math500", B % "5\\text{ cm}", "5", True),
    ("math500", B % "10^\\circ", "10", True),
    ("math500", B % "\\$18", "18", True),
    # intervals and sets
    ("math500", B % "[1, 3)", "[1,3)", True),
    ("math500", B % "(1, 3)", "[1,3]", False),
    ("math500", B % "(-\\infty, 2]", "(-\\infty,2]", True),
    # multiple answers
    ("olympiadbench", B % "1, 2", "1, 2", True),
    ("olympiadbench", B % "2, 1", "1, 2", True),
    ("olympiadbench", B % "1, 3", "1, 2", False),
    # percentages
    ("math500", B % "50\\%", "50", True),
    # nested and last boxed
    ("math500", "first " + B % "3" + " then " + B % "4", "4", True),
    ("math500", "first " + B % "4" + " then " + B % "3", "4", False),
    ("math500", B % "\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}", True),
    # gsm8k-style extraction
    ("openai/gsm8k", "She has 3 + 4 = 7 apples.\n#### 7", "7", True),
    ("openai/gsm8k", "#### 1,250", "1250", True),
    ("openai/gsm8k", "so she earns 18 dollars", "18", True),
    ("openai/gsm8k", "so she earns 19 dollars", "18", False),
    ("openai/gsm8k", B % "18", "18", True),
    # malformed / missing answers score 0
    ("math500", "no final answer", "3", False),
    ("math500", "\\boxed{", "3", False),
    ("math500", "", "3", False),
    ("math500", B % "", "3", False),
    ("math500", B % "3" * 1, "3.0", True),
]


@pytest.mark.parametrize("source, response, truth, expected", CASES)
def test_reward_table(source, response, truth, expected):
    result = compute_score(source, response, truth)
    assert result["acc"] is expected, result
    assert result["score"] == (1.0 if expected else 0.0)


def test_table_size():
    assert len(CASES) >= 50


def test_format_flag_and_prediction():
    ok = compute_score("math500", "so " + B % "\\frac{1}{2}", "0.5")
    assert ok["format_ok"] and ok["pred"] == "\\frac{1}{2}"
    assert not compute_score("math500", "I give up", "0.5")["format_ok"]
