// Video hashes in the browser: MD5/SHA-256 of the whole file and vPDQ, the twin of
// hashing/video.py (which follows Meta's vpdq 0.2.5 step by step).
//
//   hashVideoFile(file, {onProgress, signal})  -> the record `python -m hashing clip.mp4`
//     prints (without "path"): {media: "video", md5, sha256, duration,
//                               vpdq: [{frame, timestamp, pdq, quality}, ...]}
//
// It runs in a Web Worker (or on a page): the file is demuxed with the vendored mediabunny
// (MP4/MOV and WebM/MKV, read in slices through a small cache, so memory stays flat for a
// file of several GB), decoded with WebCodecs' VideoDecoder, and the sampled frames are
// converted and PDQ-hashed here. Nothing is sent anywhere.
//
// The server's rule (hashing/video.py, hashing/README.md "Video"), repeated here:
// 1. The first video track is decoded; frames are numbered 0, 1, 2... in the order the
//    decoder returns them (presentation order, as FFmpeg's decoders return them).
// 2. Frame rate: the stream's average frame rate as FFmpeg computes it: for MP4/MOV the
//    number of samples over the sum of their durations; for WebM/MKV the video track's
//    DefaultDuration (reduced as FFmpeg's av_reduce does, denominators up to 30000), else
//    the packets' count over their time span. Frame n is sampled when
//    n % int(secondsPerHash * rate) == 0 (a modulus of 0 becomes 1).
// 3. A sampled frame is converted to 8-bit RGB at its visible size as vpdq's swscale does:
//    BT.601 matrix whatever the colour tags say, limited range unless FFmpeg would decode it
//    to a full-range "yuvj" format (8-bit H.264 flagged full range); for 8-bit 4:2:0 the
//    arithmetic is swscale's x86 yuv2rgb (16-bit fixed point, chroma shared by each 2x2
//    block), which gives the server's bytes exactly.
// 4. PDQ of those pixels (fast.js, else pdq.js: the same bits as the server's PDQ);
//    timestamp float32(n) / float32(rate), shared rounded to the millisecond.
// 5. Kept: sampled frames with quality >= 50, minus a frame whose hash equals the previous
//    kept frame's.
// Differences from the server, all measured by tests/browser/test_js_video.py: 10-bit,
// 4:4:4 and odd-height frames are converted in floating point (swscale takes other paths
// for them; a few pixels differ, PDQs by at most 2 bits), and the decoder is always flushed (the server, as vpdq, loses the last
// delayed frames of a video stored after an audio stream).
//
// Where WebCodecs or the codec is missing, `hashVideoWithElement` (page thread only: a
// <video> element cannot exist in a Worker) seeks a <video> element to each sampled frame
// and hashes what the browser paints; the browser's own YUV conversion differs from
// swscale's by a few bits per frame, well within vPDQ's matching distance.

import { digestBlob } from "./digest.js";
import { HashingError } from "./hashing.js";
import { LAYOUTS, hashCopiedFrame, hashRgba } from "./video-pixels.js";
import {
  BlobSource,
  EncodedPacketSink,
  Input,
  MATROSKA,
  MP4,
  QTFF,
  WEBM,
} from "./vendor/mediabunny-1.61.0/mediabunny.min.mjs";

// The server's constants (hashing/video.py, hashing/pdq.py).
export const DEFAULT_SECONDS_PER_HASH = 1.0;
export const PDQ_QUALITY_FLOOR = 50;
export const MIN_DIMENSION = 5;
export const DEFAULT_LIMITS = Object.freeze({
  maxBytes: 4 * 1024 ** 3,
  maxSeconds: 2 * 3600,
  maxPixels: 7680 * 4320,
  maxFrames: 2 * 3600 * 60,
});

// Encoded chunks queued in the decoder (a few KB each) before we wait for it, and copied
// sampled frames being hashed at once (a 1080p frame is 3 MB, a 4K one 12 MB).
const DECODE_QUEUE = 16;
const HASHING_IN_FLIGHT = 2;

const UNSUPPORTED_MESSAGE =
  "This browser cannot read this video. Choose server-side hashing, or convert it to MP4 (H.264) or WebM.";

function unreadable(message = "This file could not be read as a video. It may be damaged.") {
  return new HashingError("unreadable", message);
}

function unsupported(fallback = null) {
  const error = new HashingError("unsupported", UNSUPPORTED_MESSAGE);
  // "element": the page can still try hashVideoWithElement (WebCodecs could not decode it).
  error.fallback = fallback;
  return error;
}

function checkAborted(signal) {
  if (signal && signal.aborted) throw signal.reason ?? new DOMException("Hashing was cancelled.", "AbortError");
}

// ---------------------------------------------------------------------------------------
// Containers

// ISO base media brands that are still images (HEIC, AVIF): hashed as images.
const IMAGE_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis"]);
const QUICKTIME_ATOMS = new Set(["moov", "mdat", "wide", "free", "skip", "pnot"]);

/** "mp4", "matroska", "avi" or null from a file's first 16 bytes, as hashing.video.sniff_container. */
export function sniffContainer(head) {
  const ascii = (from, to) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return "matroska";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "AVI ") return "avi";
  const box = ascii(4, 8);
  if (box === "ftyp") return IMAGE_BRANDS.has(ascii(8, 12)) ? null : "mp4";
  if (QUICKTIME_ATOMS.has(box)) return "mp4";
  return null;
}

/** FFmpeg's av_reduce: the closest fraction with numerator and denominator <= max. */
export function avReduce(num, den, max) {
  let n = BigInt(num);
  let d = BigInt(den);
  const limit = BigInt(max);
  const gcd = (a, b) => {
    while (b) [a, b] = [b, a % b];
    return a;
  };
  const g = gcd(n, d);
  if (g) {
    n /= g;
    d /= g;
  }
  let a0 = [0n, 1n];
  let a1 = [1n, 0n];
  if (n <= limit && d <= limit) {
    a1 = [n, d];
    d = 0n;
  }
  while (d) {
    let x = n / d;
    const nextDen = n - d * x;
    const a2n = x * a1[0] + a0[0];
    const a2d = x * a1[1] + a0[1];
    if (a2n > limit || a2d > limit) {
      if (a1[0]) x = (limit - a0[0]) / a1[0];
      if (a1[1]) {
        const y = (limit - a0[1]) / a1[1];
        if (y < x) x = y;
      }
      if (d * (2n * x * a1[1] + a0[1]) > n * a1[1]) a1 = [x * a1[0] + a0[0], x * a1[1] + a0[1]];
      break;
    }
    a0 = a1;
    a1 = [a2n, a2d];
    n = d;
    d = nextDen;
  }
  return [Number(a1[0]), Number(a1[1])];
}

// FFmpeg's "standard" frame rates (libavformat/demux.c get_std_framerate, over 12 * 1001):
// n/12 up to 30, 31..60, 80, 120, 240, and the NTSC 1000/1001 rates.
const STANDARD_RATES = [
  ...Array.from({ length: 360 }, (_, i) => (i + 1) / 12),
  ...Array.from({ length: 30 }, (_, i) => i + 31),
  80, 120, 240,
  ...[24, 30, 60, 12, 15, 48].map((r) => (r * 1000) / 1001),
];

/**
 * The frame rate FFmpeg settles on for a stream that declares none (a WebM from
 * MediaRecorder has no DefaultDuration): its estimate from the packets, rounded to the
 * closest standard rate within 1% (avformat_find_stream_info). FFmpeg's own estimate
 * (ff_rfps_calculate, over the first packets) is not reproduced: a whole number of frames a
 * second within 0.5% is preferred, which is what it gave for Chromium's 30 fps recordings
 * (their millisecond timestamps put the plain estimate nearer 29.97), so a 29.97 fps stream
 * without DefaultDuration counts as 30 here. Approximate: a video whose rate drifts may
 * still get another rate than the server's.
 */
export function standardRate(estimate) {
  const whole = Math.round(estimate);
  if (whole > 0 && Math.abs(estimate / whole - 1) < 0.005) return whole;
  let best = null;
  let bestError = 0.01;
  for (const candidate of STANDARD_RATES) {
    const error = Math.abs(estimate / candidate - 1);
    if (error < bestError) {
      bestError = error;
      best = candidate;
    }
  }
  return best ?? estimate;
}

// Matroska element IDs (with their length marker, as written).
const EBML = { segment: 0x18538067, info: 0x1549a966, tracks: 0x1654ae6b, cluster: 0x1f43b675,
  trackEntry: 0xae, trackType: 0x83, defaultDuration: 0x23e383, timestampScale: 0x2ad7b1, duration: 0x4489 };

function readVint(bytes, at, keepMarker) {
  const first = bytes[at];
  if (first === undefined || first === 0) return null;
  let length = 1;
  while (!(first & (0x80 >> (length - 1)))) length++;
  if (at + length > bytes.length) return null;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === (0xff >> length);
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[at + i];
    if (bytes[at + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

function readUnsigned(bytes, at, size) {
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + bytes[at + i];
  return value;
}

/**
 * From a WebM/MKV file's header: the first video track's DefaultDuration (ns) and the
 * segment's duration (s), each null when absent. Reads only the elements before the first
 * Cluster (a few KB).
 */
export async function matroskaHeader(blob) {
  const head = new Uint8Array(await blob.slice(0, 1024 * 1024).arrayBuffer());
  const result = { defaultDurationNs: null, seconds: null };
  let at = 0;
  const element = (pos) => {
    const id = readVint(head, pos, true);
    if (!id) return null;
    const size = readVint(head, pos + id.length, false);
    if (!size) return null;
    return { id: id.value, start: pos + id.length + size.length, size: size.unknown ? Infinity : size.value };
  };
  // EBML header, then the Segment.
  let top = element(at);
  if (!top) return result;
  at = top.start + top.size;
  top = element(at);
  if (!top || top.id !== EBML.segment) return result;
  at = top.start;
  let timestampScale = 1e6;
  let duration = null;
  let foundTracks = false;
  while (at < head.length) {
    const child = element(at);
    if (!child || child.id === EBML.cluster || child.size === Infinity) break;
    const end = child.start + child.size;
    if (child.id === EBML.info) {
      for (let p = child.start; p < Math.min(end, head.length); ) {
        const e = element(p);
        if (!e) break;
        if (e.id === EBML.timestampScale) timestampScale = readUnsigned(head, e.start, e.size);
        if (e.id === EBML.duration && e.start + e.size <= head.length) {
          const view = new DataView(head.buffer, e.start, e.size);
          duration = e.size === 4 ? view.getFloat32(0) : e.size === 8 ? view.getFloat64(0) : null;
        }
        p = e.start + e.size;
      }
    } else if (child.id === EBML.tracks && !foundTracks) {
      foundTracks = true;
      for (let p = child.start; p < Math.min(end, head.length) && result.defaultDurationNs === null; ) {
        const entry = element(p);
        if (!entry) break;
        if (entry.id === EBML.trackEntry) {
          let type = null;
          let defaultDuration = null;
          for (let q = entry.start; q < Math.min(entry.start + entry.size, head.length); ) {
            const e = element(q);
            if (!e) break;
            if (e.id === EBML.trackType) type = readUnsigned(head, e.start, e.size);
            if (e.id === EBML.defaultDuration) defaultDuration = readUnsigned(head, e.start, e.size);
            q = e.start + e.size;
          }
          if (type === 1) {
            result.defaultDurationNs = defaultDuration;
            break; // the first video track is the one hashed
          }
        }
        p = entry.start + entry.size;
      }
    }
    at = end;
  }
  if (duration !== null) result.seconds = (duration * timestampScale) / 1e9;
  return result;
}

// Whether FFmpeg decodes this frame to a full-range "yuvj" pixel format (hashing/video.py
// converts those as full range, everything else as limited range): its H.264 decoder does
// for 8-bit streams flagged full range; VP8/VP9/AV1 (and HEVC) keep yuv420p and a tag.
function ffmpegFullRange(codec, frame) {
  const h264 = /^(avc1|avc3)/.test(codec);
  const eightBit = !/P1[02]$/.test(frame.format || "");
  return h264 && eightBit && Boolean(frame.colorSpace && frame.colorSpace.fullRange);
}

// A sampled frame's pixels, copied out of the decoder's VideoFrame (which is then closed).
async function copyFrame(frame, codec) {
  const { width, height } = frame.visibleRect || { width: frame.displayWidth, height: frame.displayHeight };
  const format = frame.format;
  if (!LAYOUTS[format]) {
    // Opaque or RGB frames (some hardware decoders): the browser's own conversion.
    const rgba = new Uint8Array(width * height * 4);
    await frame.copyTo(rgba, { format: "RGBA", colorSpace: "srgb" });
    return { kind: "rgba", data: rgba, width, height };
  }
  const data = new Uint8Array(frame.allocationSize());
  const layout = await frame.copyTo(data);
  return { kind: "planes", format, data, layout, width, height, fullRange: ffmpegFullRange(codec, frame) };
}

/**
 * Converts and PDQ-hashes copied frames on a helper Worker (video-frames.js), so that this
 * thread keeps feeding the decoder and closing its frames meanwhile, as the server hashes on
 * a helper thread while decoding goes on. Where a Worker cannot be started here (no nested
 * Workers), the frames are hashed on this thread: the same bits, only without the overlap.
 */
class FrameHasher {
  constructor(useWorker) {
    this.calls = new Map();
    this.next = 0;
    this.worker = null;
    if (!useWorker || typeof Worker !== "function") return;
    try {
      this.worker = new Worker(new URL("./video-frames.js", import.meta.url), { type: "module" });
    } catch {
      this.worker = null;
      return;
    }
    this.worker.addEventListener("message", (event) => {
      const { id, pdq, quality, error } = event.data;
      const call = this.calls.get(id);
      this.calls.delete(id);
      if (error) call.reject(new Error(error));
      else call.resolve({ pdq, quality });
    });
    this.worker.addEventListener("error", (event) => {
      event.preventDefault();
      const failure = new Error("The frame hashing Worker could not run.");
      for (const call of this.calls.values()) call.reject(failure);
      this.calls.clear();
      this.failed = failure;
    });
  }

  hash(job) {
    if (!this.worker) return Promise.resolve().then(() => hashCopiedFrame(job));
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      // The pixels move to the helper (transferred, not copied).
      this.worker.postMessage({ id, job }, [job.data.buffer]);
    });
  }

  close() {
    if (this.worker) this.worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------
// Sampling and records

/** vpdq's timestamp: float32(n) / float32(rate), in float32. */
export function frameTimestamp(n, rate) {
  return Math.fround(Math.fround(n) / Math.fround(rate));
}

/** Python's round(x, 3) (round half to even on the exact binary value). */
export function roundMillis(x) {
  const fixed = Number(x.toFixed(3));
  const scaled = x * 1000;
  // toFixed rounds an exact tie up; Python rounds it to even.
  if (Number.isInteger(scaled * 2) && !Number.isInteger(scaled) && scaled * 2 === x * 2000) {
    const down = Math.floor(scaled);
    return (down % 2 === 0 ? down : down + 1) / 1000;
  }
  return fixed;
}

/** hashing.video.kept_frames: drop low quality and repeats of the previous kept hash. */
export function keptFrames(frames) {
  const kept = [];
  for (const frame of frames) {
    if (frame.quality < PDQ_QUALITY_FLOOR) continue;
    if (kept.length && kept[kept.length - 1].pdq === frame.pdq) continue;
    kept.push(frame);
  }
  return kept;
}

function record(digests, duration, sampled) {
  return {
    media: "video",
    md5: digests.md5,
    sha256: digests.sha256,
    duration: roundMillis(duration),
    vpdq: keptFrames(sampled).map((f) => ({ frame: f.frame, timestamp: roundMillis(f.timestamp), pdq: f.pdq, quality: f.quality })),
  };
}

function tooLarge(message) {
  return new HashingError("too-large", message);
}

function checkDeclared({ width, height, seconds, frames }, limits) {
  if (width * height > limits.maxPixels) {
    throw tooLarge(`This video is too large to hash: its frames are ${width}x${height} pixels; the limit is ${limits.maxPixels / 1e6} megapixels.`);
  }
  if (width < MIN_DIMENSION || height < MIN_DIMENSION) throw unreadable("This video's frames are too small to hash.");
  if (seconds !== null && seconds > limits.maxSeconds) {
    throw tooLarge(`This video is too long to hash: it lasts ${Math.round(seconds / 60)} minutes; the limit is ${limits.maxSeconds / 60} minutes.`);
  }
  if (frames > limits.maxFrames) throw tooLarge(`This video has too many frames to hash (the limit is ${limits.maxFrames}).`);
}

/**
 * Open the file's first video track: its decoder config, frame rate, declared duration and
 * an EncodedPacketSink. Throws HashingError for anything it cannot use.
 */
async function openTrack(file, container, signal) {
  const input = new Input({ source: new BlobSource(file), formats: container === "mp4" ? [MP4, QTFF] : [WEBM, MATROSKA] });
  let track;
  try {
    track = (await input.getVideoTracks())[0];
  } catch {
    input.dispose();
    throw unreadable();
  }
  if (!track) {
    input.dispose();
    throw unreadable("This file has no video track to hash.");
  }
  try {
    const config = await track.getDecoderConfig();
    const sink = new EncodedPacketSink(track);
    const width = track.codedWidth;
    const height = track.codedHeight;
    let rate = null;
    let seconds = null;
    let packets = 0;
    if (container === "matroska") {
      const header = await matroskaHeader(file);
      seconds = header.seconds;
      if (header.defaultDurationNs) {
        const [num, den] = avReduce(1_000_000_000, header.defaultDurationNs, 30000);
        rate = num / den;
      }
    }
    if (rate === null || container === "mp4") {
      // Count the samples from the index (MP4: the sample tables; no media data is read).
      const timescale = track.timeResolution;
      let ticks = 0;
      let first = Infinity;
      let last = -Infinity;
      for await (const packet of sink.packets(undefined, undefined, { metadataOnly: true })) {
        checkAborted(signal);
        packets++;
        ticks += Math.round(packet.duration * timescale);
        first = Math.min(first, packet.timestamp);
        last = Math.max(last, packet.timestamp);
      }
      if (container === "mp4") {
        // mov.c: avg_frame_rate = time_scale * nb_frames / duration (sum of sample durations).
        if (packets && ticks) rate = (packets * timescale) / ticks;
        seconds = ticks / timescale;
      } else if (rate === null && packets > 1 && last > first) {
        // Frame intervals over the span of their start times (the last block's duration
        // is usually unknown).
        rate = standardRate((packets - 1) / (last - first));
      }
    }
    if (!rate || !(rate > 0)) throw unreadable("This video does not say how many frames it has per second.");
    return { input, track, sink, config, width, height, rate, seconds, packets };
  } catch (err) {
    input.dispose();
    if (err instanceof HashingError || (err && err.name === "AbortError")) throw err;
    throw unreadable();
  }
}

async function sniff(file) {
  return sniffContainer(new Uint8Array(await file.slice(0, 16).arrayBuffer()));
}

/**
 * Hash a video file: digests and vPDQ, with every detail the tests compare.
 * @returns {Promise<{record, sampled, frameRate, framesDecoded, width, height, codec}>}
 */
export async function hashVideo(file, options = {}) {
  const { onProgress = () => {}, signal = null, secondsPerHash = DEFAULT_SECONDS_PER_HASH } = options;
  const limits = { ...DEFAULT_LIMITS, ...(options.limits || {}) };
  checkAborted(signal);
  if (file.size > limits.maxBytes) {
    throw tooLarge(`This video is too large to hash: it is ${(file.size / 1024 ** 2).toFixed(1)} MB; the limit is ${limits.maxBytes / 1024 ** 2} MB.`);
  }
  const container = await sniff(file);
  if (container === null) throw new HashingError("unsupported", UNSUPPORTED_MESSAGE);
  if (container === "avi") throw unsupported(); // no AVI demuxer here, and <video> plays none
  const digests = digestBlob(file, (done, total) => onProgress({ stage: "digest", done, total }));
  digests.catch(() => {}); // awaited below
  let opened;
  try {
    opened = await openTrack(file, container, signal);
  } catch (err) {
    await digests.catch(() => {});
    throw err;
  }
  const { input, sink, config, rate, seconds } = opened;
  try {
    const expected = Math.max(opened.packets, seconds !== null ? Math.floor(seconds * rate) : 0);
    checkDeclared({ width: opened.width, height: opened.height, seconds, frames: expected }, limits);
    if (!config || typeof VideoDecoder !== "function") throw unsupported("element");
    const support = await VideoDecoder.isConfigSupported(config).catch(() => ({ supported: false }));
    if (!support.supported) throw unsupported("element");
    const sampled = await decodeAndSample(
      sink, config, rate, secondsPerHash, limits, signal,
      (done) => onProgress({ stage: "frames", done, total: expected }),
      options.frameWorker !== false,
    );
    if (sampled.decoded === 0) throw unreadable();
    const duration = seconds !== null ? seconds : sampled.decoded / rate;
    const result = {
      record: record(await digests, duration, sampled.frames),
      sampled: sampled.frames,
      frameRate: rate,
      framesDecoded: sampled.decoded,
      width: opened.width,
      height: opened.height,
      codec: config.codec,
    };
    onProgress({ stage: "done", done: 1, total: 1 });
    return result;
  } catch (err) {
    await digests.catch(() => {});
    throw err;
  } finally {
    input.dispose();
  }
}

/**
 * The call for a Worker: the record `python -m hashing clip.mp4` prints (without "path").
 * Progress: {stage: "digest", done, total} in bytes, {stage: "frames", done, total} in
 * frames decoded (total from the container). `signal` (an AbortSignal) cancels.
 * Throws HashingError: "unsupported" (with `fallback === "element"` when the page may try
 * hashVideoWithElement), "unreadable" or "too-large"; an AbortError when cancelled.
 */
export async function hashVideoFile(file, options = {}) {
  return (await hashVideo(file, options)).record;
}

async function decodeAndSample(sink, config, rate, secondsPerHash, limits, signal, progress, useWorker) {
  const frameMod = Math.trunc(secondsPerHash * rate) || 1;
  const frames = [];
  const pending = []; // sampled VideoFrames not yet copied out, with their numbers
  const hashing = []; // copied frames being hashed: {n, promise}
  const hasher = new FrameHasher(useWorker);
  let decoded = 0;
  let failure = null;
  let wake = null;
  const notify = () => {
    if (wake) {
      const resolve = wake;
      wake = null;
      resolve();
    }
  };
  const wait = () =>
    new Promise((resolve) => {
      wake = resolve;
    });
  const decoder = new VideoDecoder({
    output(frame) {
      const n = decoded++;
      if (failure || n % frameMod !== 0) {
        frame.close();
      } else {
        pending.push({ n, frame });
      }
      notify();
    },
    error(err) {
      failure = failure || unreadable();
      failure.cause = err;
      notify();
    },
  });
  decoder.addEventListener("dequeue", notify);
  if (signal) signal.addEventListener("abort", notify, { once: true });
  const collect = async () => {
    const { n, promise } = hashing.shift();
    const { pdq, quality } = await promise;
    frames.push({ frame: n, timestamp: frameTimestamp(n, rate), pdq, quality });
  };
  // Copy sampled frames out (closing them at once) and hand them to the hasher, keeping at
  // most HASHING_IN_FLIGHT copies in memory; with `all`, wait for every hash.
  const drain = async (all) => {
    while (pending.length) {
      const { n, frame } = pending.shift();
      let job;
      try {
        const rect = frame.visibleRect || { width: frame.displayWidth, height: frame.displayHeight };
        checkDeclared({ width: rect.width, height: rect.height, seconds: null, frames: n + 1 }, limits);
        job = await copyFrame(frame, config.codec);
      } finally {
        frame.close();
      }
      const promise = hasher.hash(job);
      promise.catch(() => {}); // collected in order below
      hashing.push({ n, promise });
      while (hashing.length > HASHING_IN_FLIGHT) await collect();
    }
    while (all && hashing.length) await collect();
  };
  try {
    decoder.configure(config);
    let fed = 0;
    for await (const packet of sink.packets()) {
      checkAborted(signal);
      if (failure) throw failure;
      decoder.decode(packet.toEncodedVideoChunk());
      fed++;
      if (decoded > limits.maxFrames) throw tooLarge(`This video has too many frames to hash (the limit is ${limits.maxFrames}).`);
      await drain(false);
      while (decoder.decodeQueueSize > DECODE_QUEUE) {
        checkAborted(signal);
        if (failure) throw failure;
        await wait();
        await drain(false);
      }
      if (fed % 30 === 0) progress(decoded);
    }
    const flushing = decoder.flush();
    flushing.catch(() => {});
    // Hash sampled frames as they arrive while the decoder drains its delayed frames.
    let flushed = false;
    flushing.then(() => { flushed = true; notify(); }, () => { flushed = true; notify(); });
    while (!flushed) {
      checkAborted(signal);
      await drain(false);
      if (!flushed) await wait();
    }
    if (failure) throw failure;
    await flushing;
    checkAborted(signal);
    await drain(true);
    progress(decoded);
    return { frames, decoded };
  } catch (err) {
    if (err && err.name === "EncodingError") throw unreadable();
    throw err;
  } finally {
    for (const { frame } of pending.splice(0)) frame.close();
    hasher.close();
    if (decoder.state !== "closed") decoder.close();
  }
}

// ---------------------------------------------------------------------------------------
// Fallback: a <video> element, on the page thread.

function once(target, event, signal) {
  return new Promise((resolve, reject) => {
    const done = () => {
      target.removeEventListener(event, done);
      target.removeEventListener("error", failed);
      resolve();
    };
    const failed = () => {
      target.removeEventListener(event, done);
      target.removeEventListener("error", failed);
      reject(unsupported());
    };
    target.addEventListener(event, done);
    target.addEventListener("error", failed);
    if (signal) signal.addEventListener("abort", failed, { once: true });
  });
}

// Seek and wait until the frame there is the one painted: "seeked" can fire before the new
// frame is presented, and drawImage would then read the previous one.
async function seekTo(video, time, signal) {
  const presented =
    typeof video.requestVideoFrameCallback === "function"
      ? new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()))
      : null;
  video.currentTime = time;
  await once(video, "seeked", signal);
  if (presented) await Promise.race([presented, new Promise((resolve) => setTimeout(resolve, 1000))]);
}

/**
 * vPDQ through a <video> element, for browsers without WebCodecs or without a decoder for
 * the codec. Page thread only (HTMLVideoElement and document exist only there; a Worker's
 * OffscreenCanvas cannot draw a <video>). The frame rate and count come from the container
 * (mediabunny, as hashVideo); each sampled frame n is sought at the middle of its display
 * interval, drawn to a canvas and hashed. The browser's conversion (its own matrix from the
 * colour tags, interpolated chroma) differs from swscale's by a few PDQ bits; the frame list
 * still matches under the vPDQ rule (tested). Same record and options as hashVideoFile.
 */
export async function hashVideoWithElement(file, options = {}) {
  const { onProgress = () => {}, signal = null, secondsPerHash = DEFAULT_SECONDS_PER_HASH } = options;
  const limits = { ...DEFAULT_LIMITS, ...(options.limits || {}) };
  if (typeof document === "undefined") throw new Error("hashVideoWithElement runs on a page, not in a Worker");
  const container = await sniff(file);
  if (container === null || container === "avi") throw new HashingError("unsupported", UNSUPPORTED_MESSAGE);
  const digests = digestBlob(file, (done, total) => onProgress({ stage: "digest", done, total }));
  digests.catch(() => {});
  const opened = await openTrack(file, container, signal).catch(async (err) => {
    await digests.catch(() => {});
    throw err;
  });
  const { rate, seconds } = opened;
  const first = await opened.sink.getFirstPacket({ metadataOnly: true }).catch(() => null);
  opened.input.dispose();
  const total = opened.packets || Math.floor((seconds || 0) * rate);
  checkDeclared({ width: opened.width, height: opened.height, seconds, frames: total }, limits);
  const url = URL.createObjectURL(file);
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  video.playsInline = true;
  try {
    video.src = url;
    await once(video, "loadeddata", signal);
    const width = video.videoWidth;
    const height = video.videoHeight;
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const frameMod = Math.trunc(secondsPerHash * rate) || 1;
    const start = first && first.timestamp > 0 ? first.timestamp : 0;
    const frames = [];
    const end = video.duration;
    for (let n = 0; n < total; n += frameMod) {
      checkAborted(signal);
      const time = start + (n + 0.5) / rate;
      if (time >= end) break;
      await seekTo(video, time, signal);
      ctx.drawImage(video, 0, 0, width, height);
      const { pdq, quality } = hashRgba(ctx.getImageData(0, 0, width, height).data, width, height);
      frames.push({ frame: n, timestamp: frameTimestamp(n, rate), pdq, quality });
      onProgress({ stage: "frames", done: n + 1, total });
      await new Promise((resolve) => setTimeout(resolve, 0)); // let the page breathe
    }
    if (!frames.length) throw unreadable();
    const duration = seconds !== null ? seconds : total / rate;
    return record(await digests, duration, frames);
  } finally {
    await digests.catch(() => {});
    video.removeAttribute("src");
    video.load();
    URL.revokeObjectURL(url);
  }
}
