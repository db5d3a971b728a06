"""Synthesize the spoken digits and write ``skmmae/datasets/data/spoken_digits.npz``.

Needs the ``espeak-ng`` program (``apt-get install espeak-ng``) at build
time only: the package ships the spectrograms, never calls the synthesizer.
Run from the repository root::

    python tools/make_spoken_digits.py            # write the .npz
    python tools/make_spoken_digits.py --check    # regenerate, compare with it

Every (accent, variant, speed, pitch) voice says the ten words "zero" ...
"nine". Each utterance is read from ``espeak-ng --stdout`` in memory (16-bit
mono WAV at 22,050 Hz), turned into a log-mel spectrogram with numpy only
(25 ms Hann windows every 10 ms, 32 mel bands from 0 to 8,000 Hz, decibels
relative to the utterance's maximum, clipped at -80 dB), trimmed of the
frames more than 50 dB below its loudest one at either end, and linearly
resampled along time to 32 frames. ``--check`` regenerates all of it and
asserts that every stored array is byte-identical.
"""

import argparse
import io
import subprocess
import wave
from pathlib import Path

import numpy as np

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: espeak-ng's English voices, by file name (gmw/...): "en" is British
#: English (as "en-gb", it would ignore the variant in espeak-ng 1.51).
#: en-us-nyc, which says most of these words as en-us does, and the mbrola
#: voices, which need a separate synthesizer, are left out.
ACCENTS = (
    "en",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-gb-x-rp",
    "en-us",
    "en-029",
)
#: Voice variants (``espeak-ng --voices=variant``): two male, two female.
VARIANTS = ("m1", "m3", "f2", "f4")
#: Words per minute (``-s``; espeak-ng's default is 175).
SPEEDS = (140, 190)
#: Pitch, 0..99 (``-p``; default 50).
PITCHES = (35, 65)

SAMPLE_RATE = 22050
WINDOW = round(0.025 * SAMPLE_RATE)  # 551 samples
HOP = round(0.010 * SAMPLE_RATE)  # 220 samples
N_FFT = 1024
N_MELS = 32
F_MAX = 8000.0
N_FRAMES = 32
TOP_DB = 80.0
TRIM_DB = 50.0

OUT = Path(__file__).resolve().parents[1] / "skmmae" / "datasets" / "data" / "spoken_digits.npz"


def espeak_version():
    """``espeak-ng --version`` up to its data path, e.g. "eSpeak NG text-to-speech: 1.51"."""
    result = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return result.stdout.split("Data at:")[0].strip()


def synthesize(word, voice, speed, pitch):
    """espeak-ng's waveform of ``word`` as float64 in [-1, 1)."""
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word]
    wav = subprocess.run(command, capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        if (reader.getframerate(), reader.getsampwidth(), reader.getnchannels()) != (
            SAMPLE_RATE,
            2,
            1,
        ):
            raise ValueError(f"espeak-ng gave an unexpected WAV format for {command}")
        # The header's frame count is a placeholder (streamed output): read all.
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2") / 32768.0


def mel_filterbank():
    """Triangular filters ``(N_MELS, N_FFT // 2 + 1)`` equally spaced on the HTK mel
    scale from 0 to F_MAX (peak 1 each), and their center frequencies in Hz."""
    top_mel = 2595.0 * np.log10(1.0 + F_MAX / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(0.0, top_mel, N_MELS + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(N_FFT, d=1.0 / SAMPLE_RATE)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (center - lower)
    falling = (upper - bins) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling)), edges[1:-1]


def log_mel(signal, filterbank):
    """Log-mel spectrogram ``(N_MELS, n_frames)`` in dB below its maximum, clipped."""
    n_frames = 1 + (len(signal) - WINDOW) // HOP
    starts = HOP * np.arange(n_frames)
    frames = signal[starts[:, None] + np.arange(WINDOW)] * np.hanning(WINDOW)
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2
    mel_power = filterbank @ power.T
    db = 10.0 * np.log10(np.maximum(mel_power, 1e-20))
    return np.maximum(db - db.max(), -TOP_DB)


def trim_and_resample(db):
    """Drop the frames TRIM_DB below the loudest at both ends; resample time to N_FRAMES."""
    frame_db = 10.0 * np.log10(np.sum(10.0 ** (db / 10.0), axis=0))
    loud = np.flatnonzero(frame_db >= frame_db.max() - TRIM_DB)
    kept = db[:, loud[0] : loud[-1] + 1]
    positions = np.linspace(0.0, kept.shape[1] - 1, N_FRAMES)
    resampled = np.stack([np.interp(positions, np.arange(kept.shape[1]), row) for row in kept])
    return resampled, kept.shape[1]


def generate():
    """All arrays of the .npz, in the order accent, variant, speed, pitch, digit."""
    filterbank, centers = mel_filterbank()
    spectrograms, digits, voices, speeds, pitches, lengths = [], [], [], [], [], []
    for accent in ACCENTS:
        for variant in VARIANTS:
            for speed in SPEEDS:
                for pitch in PITCHES:
                    voice = f"{accent}+{variant}"
                    for digit, word in enumerate(WORDS):
                        db = log_mel(synthesize(word, voice, speed, pitch), filterbank)
                        spectrogram, n_kept = trim_and_resample(db)
                        spectrograms.append(spectrogram)
                        digits.append(digit)
                        voices.append(voice)
                        speeds.append(speed)
                        pitches.append(pitch)
                        lengths.append(n_kept)
    return {
        "audio": np.stack(spectrograms).astype(np.float16),
        "digit": np.array(digits, dtype=np.int8),
        "voice": np.array(voices),
        "speed": np.array(speeds, dtype=np.int16),
        "pitch": np.array(pitches, dtype=np.int8),
        "trimmed_frames": np.array(lengths, dtype=np.int16),
        "mel_frequencies": centers.astype(np.float32),
        "espeak_version": np.array(espeak_version()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the .npz")
    parser.add_argument(
        "--check", action="store_true", help="regenerate and compare with --out instead of writing"
    )
    args = parser.parse_args()
    arrays = generate()
    if args.check:
        with np.load(args.out) as stored:
            differing = [
                name
                for name, array in arrays.items()
                if name not in stored
                or stored[name].dtype != array.dtype
                or stored[name].shape != array.shape
                or stored[name].tobytes() != array.tobytes()
            ]
            extra = sorted(set(stored.files) - set(arrays))
        if differing or extra:
            raise SystemExit(f"{args.out} differs from a fresh run: {differing + extra}")
        print(f"{args.out}: all {len(arrays)} arrays byte-identical to a fresh run")
        return
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(arrays['digit'])} utterances)")


if __name__ == "__main__":
    main()
