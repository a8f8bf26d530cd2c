"""config.parse_sizes: the one reader of typed layer sizes, for the command line and the app."""

from __future__ import annotations

import pytest

from digitpad.cli.common import UsageError
from digitpad.cli.parser import build_parser
from digitpad.config import ConfigError, ModelConfig, parse_sizes

# What either the command line or the app accepted before they shared one parser.
ACCEPTED = {
    "512,256": (512, 256),
    "512, 256": (512, 256),
    " 64 ; 32 ": (64, 32),
    "64;32,16": (64, 32, 16),
    "128,": (128,),
    "8": (8,),
}


@pytest.mark.parametrize("text", ACCEPTED)
def test_commas_semicolons_and_spaces_are_read(text):
    assert parse_sizes(text) == ACCEPTED[text]


@pytest.mark.parametrize("text", ACCEPTED)
def test_the_command_line_reads_sizes_as_the_app_does(text):
    args = build_parser().parse_args(["train", "--hidden", text, "--channels", text])
    assert args.hidden == args.channels == ACCEPTED[text]


@pytest.mark.parametrize("text, expected", [
    ("", "enter the hidden layer sizes, like 512,256"),
    (" , ;", "enter the hidden layer sizes, like 512,256"),
    ("512,abc", "must be whole numbers separated by commas, like 512,256; not '512,abc'"),
    ("5 12", "not '5 12'"),  # a space is not a separator, and never glues digits together
    ("1.5", "whole numbers"),
])
def test_anything_else_says_what_is_expected(text, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_sizes(text)


def test_the_command_line_names_the_option_in_one_line():
    with pytest.raises(UsageError) as caught:
        build_parser().parse_args(["train", "--channels", "4,x"])
    message = str(caught.value)
    assert "argument --channels: the channel counts must be whole numbers separated by commas, like 16,32" in message
    assert "\n" not in message


def test_ranges_stay_the_model_configs_to_check():
    assert parse_sizes("0,9000") == (0, 9000)
    with pytest.raises(ConfigError, match="between 1 and 8192"):
        ModelConfig(arch="mlp", hidden=parse_sizes("0,9000"))
