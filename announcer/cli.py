"""`roadguard announce`: speak a sentence through the configured voice, for an installer
testing a speaker on the pole (or writing the clip to a WAV file to listen to it later)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    announce = sub.add_parser("announce", help="speak TEXT (test a speaker or a voice)")
    announce.add_argument("text", help="what to say")
    announce.add_argument("--lang", choices=["zh", "en"], default="zh")
    announce.add_argument("--out", type=Path, help="write a WAV file instead of playing it")
    announce.add_argument("--rate", type=int, default=150, help="words per minute")
    announce.add_argument(
        "--player", choices=["aplay", "paplay"], default="aplay", help="without --out"
    )
    announce.set_defaults(func=_announce)


def _announce(args: argparse.Namespace) -> int:
    from announcer.clips import read_wav
    from announcer.config import DEFAULT_VOICES, DeviceOutput
    from announcer.outputs import DevicePlayer, PlaybackFailed
    from announcer.speech import SpeechUnavailable, Synthesiser, resolve_voices

    synthesiser = Synthesiser()
    try:
        voices = resolve_voices(DEFAULT_VOICES, synthesiser.voice_ids(), [args.lang])
    except SpeechUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    voice = voices[args.lang]
    if voice is None:
        wanted = ", ".join(DEFAULT_VOICES[args.lang])
        print(f"no voice for {args.lang!r} installed (looked for {wanted})", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="roadguard-announce-")) / "clip.wav"
    synthesiser.render(args.text, voice, args.rate, out)
    audio = read_wav(out)
    print(f"{out}: {audio.seconds:.2f} s at {audio.rate} Hz, voice {voice}")
    if args.out is None:
        try:
            DevicePlayer(DeviceOutput(player=args.player)).play(audio, out, "test")
        except PlaybackFailed as exc:
            print(f"playback failed: {exc}", file=sys.stderr)
            return 1
    return 0
