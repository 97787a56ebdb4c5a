"""The labelling rules of Models/LABELLING.md, in code: one place that every dataset builder calls.

A transcript goes through `normalise_transcript` (case, punctuation, numbers, fillers), then `command_label` maps it to
exactly one of `LABELS`. `check_label` is what the tests run over a sample of committed labels.
"""
import re

RATE = 16000
CLIP_SAMPLES = 16000            # every command-en clip is exactly 1.000 s
MARGIN_SAMPLES = 800            # at least 50 ms of non-speech before and after the speech
JITTER_SAMPLES = 1600           # the speech centre lies within ±100 ms of the clip centre
SPEECH_LEVEL_DBFS = -20.0       # clean speech is normalised to this active-speech RMS before mixing
LEVEL_RANGE_DBFS = (-45.0, -10.0)

VOCABULARY = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh",
              "yes", "no", "stop", "go", "start", "cancel", "repeat", "next", "back", "up", "down", "left", "right",
              "on", "off", "status", "help", "confirm", "forward", "backward", "meters"]
LABELS = ["silence", "unknown"] + VOCABULARY

FILLERS = {"um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm"}
FILLER_TOKEN = "[filler]"
DIGITS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
          "8": "eight", "9": "nine"}
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# British spelling and common variants written the one way the vocabulary spells them.
SPELLINGS = {"metres": "meters", "metre": "meter", "ok": "okay", "backwards": "backward", "forwards": "forward"}
# Words that sound exactly like a vocabulary word: a clip of one of them alone is labelled as that word.
HOMOPHONES = {"know": "no", "to": "two", "too": "two", "for": "four", "won": "one", "write": "right", "ate": "eight",
              "owe": "oh"}


def number_words(n):
    """0–999 as words, the way it is spoken as a quantity ("ten", "twenty five", "one hundred five")."""
    if n < 10:
        return DIGITS[str(n)]
    if n < 20:
        return TEENS[n - 10]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + DIGITS[str(n % 10)])
    rest = n % 100
    return DIGITS[str(n // 100)] + " hundred" + ("" if rest == 0 else " " + number_words(rest))


def normalise_transcript(text):
    """Lower case, no punctuation, numbers as words, fillers as one token, single spaces.

    A run of two or more digits written without spaces is read digit by digit when it starts with 0 or is longer
    than three digits (codes, serial numbers: "02934" → "zero two nine three four"); otherwise as a quantity
    ("10" → "ten")."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' \[\]]", " ", text)
    words = []
    for token in text.split():
        token = token.strip("'")
        if not token:
            continue
        if token.isdigit():
            if len(token) > 3 or (len(token) > 1 and token[0] == "0"):
                words += [DIGITS[d] for d in token]
            else:
                words += number_words(int(token)).split()
        elif token in FILLERS or token == FILLER_TOKEN:
            if not words or words[-1] != FILLER_TOKEN:
                words.append(FILLER_TOKEN)
        else:
            words.append(SPELLINGS.get(token, token))
    return " ".join(words)


def command_label(transcript):
    """The command-en label of one clip: `silence` when nothing was said, the word when exactly one vocabulary word
    was said (fillers around it do not count; a homophone counts as its word), `unknown` for any other speech (a filler alone included)."""
    words = normalise_transcript(transcript).split()
    spoken = [w for w in words if w != FILLER_TOKEN]
    if not words:
        return "silence"
    if len(spoken) == 1 and HOMOPHONES.get(spoken[0], spoken[0]) in VOCABULARY:
        return HOMOPHONES.get(spoken[0], spoken[0])
    return "unknown"


def check_label(label):
    """Raises ValueError when a stored label breaks the rules."""
    if label not in LABELS:
        raise ValueError(f"{label!r} is not a command-en label")
    if label != label.lower() or re.search(r"[^a-z]", label):
        raise ValueError(f"{label!r}: labels are lower-case letters only")
