;; Hot loops of hashing/js, in WebAssembly with 128-bit SIMD.
;;
;; Each function performs exactly the arithmetic of its JavaScript twin (pdq.js,
;; imagehash.js, hashing.js), which follow the C/C++ references: f32 operations where the
;; reference uses float (WebAssembly's f32 add/sub/div are IEEE single precision with
;; round-to-nearest, like C's float on x86-64 SSE), f64 where NumPy uses float64, and exact
;; integer sums for Pillow's fixed-point resampler (order does not matter there). The parity
;; tests in tests/browser/ check the result bit for bit against the Python side.
;;
;; Build: see README.md beside this file. All pointers are byte offsets into the memory the
;; caller provides.
(module
  (import "env" "memory" (memory 1))

  ;; Flatten transparent pixels onto white in place (hashing.js flattenOnWhite):
  ;; c' = (c*a + 255*(255-a) + 127) / 255, integer division.
  (func $flatten1 (param $p i32)
    (local $a i32) (local $bg i32)
    (local.set $a (i32.load8_u offset=3 (local.get $p)))
    (if (i32.ne (local.get $a) (i32.const 255))
      (then
        (local.set $bg (i32.add (i32.mul (i32.const 255) (i32.sub (i32.const 255) (local.get $a))) (i32.const 127)))
        (i32.store8 (local.get $p)
          (i32.div_u (i32.add (i32.mul (i32.load8_u (local.get $p)) (local.get $a)) (local.get $bg)) (i32.const 255)))
        (i32.store8 offset=1 (local.get $p)
          (i32.div_u (i32.add (i32.mul (i32.load8_u offset=1 (local.get $p)) (local.get $a)) (local.get $bg)) (i32.const 255)))
        (i32.store8 offset=2 (local.get $p)
          (i32.div_u (i32.add (i32.mul (i32.load8_u offset=2 (local.get $p)) (local.get $a)) (local.get $bg)) (i32.const 255)))
        (i32.store8 offset=3 (local.get $p) (i32.const 255)))))

  ;; One pass over n RGBA pixels (BGRA if $bgra is 1): flatten alpha, then PDQ's float32
  ;; luminance f32(R*0.299 + G*0.587 + B*0.114 in f64) and Pillow's greyscale
  ;; (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. Returns 1 if any pixel was translucent.
  (func (export "prep") (param $rgba i32) (param $n i32) (param $luma i32) (param $grey i32) (param $bgra i32) (result i32)
    (local $i i32) (local $p i32) (local $n4 i32) (local $any i32)
    (local $v v128) (local $r v128) (local $g v128) (local $b v128)
    (local $lo v128) (local $hi v128) (local $gi v128)
    (local $rr i32) (local $gg i32) (local $bb i32)
    ;; Constants live in locals: V8 would otherwise rebuild each one on every iteration.
    (local $ka v128) (local $kr v128) (local $kg v128) (local $kb v128)
    (local $cr v128) (local $cg v128) (local $cb v128)
    (local $gr v128) (local $gg2 v128) (local $gb v128) (local $gh v128)
    (local.set $ka (v128.const i32x4 0xff000000 0xff000000 0xff000000 0xff000000))
    (local.set $kr (v128.const i8x16 0 -1 -1 -1 4 -1 -1 -1 8 -1 -1 -1 12 -1 -1 -1))
    (local.set $kg (v128.const i8x16 1 -1 -1 -1 5 -1 -1 -1 9 -1 -1 -1 13 -1 -1 -1))
    (local.set $kb (v128.const i8x16 2 -1 -1 -1 6 -1 -1 -1 10 -1 -1 -1 14 -1 -1 -1))
    (if (local.get $bgra)
      (then
        (local.set $kb (local.get $kr))
        (local.set $kr (v128.const i8x16 2 -1 -1 -1 6 -1 -1 -1 10 -1 -1 -1 14 -1 -1 -1))))
    (local.set $cr (v128.const f64x2 0.299 0.299))
    (local.set $cg (v128.const f64x2 0.587 0.587))
    (local.set $cb (v128.const f64x2 0.114 0.114))
    (local.set $gr (v128.const i32x4 19595 19595 19595 19595))
    (local.set $gg2 (v128.const i32x4 38470 38470 38470 38470))
    (local.set $gb (v128.const i32x4 7471 7471 7471 7471))
    (local.set $gh (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $quad
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $p (i32.add (local.get $rgba) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $v (v128.load (local.get $p)))
        ;; All four alphas 255? Otherwise flatten these four pixels first.
        (if (i32.eqz (i32x4.all_true
              (i32x4.eq (v128.and (local.get $v) (local.get $ka))
                        (local.get $ka))))
          (then
            (local.set $any (i32.const 1))
            (call $flatten1 (local.get $p))
            (call $flatten1 (i32.add (local.get $p) (i32.const 4)))
            (call $flatten1 (i32.add (local.get $p) (i32.const 8)))
            (call $flatten1 (i32.add (local.get $p) (i32.const 12)))
            (local.set $v (v128.load (local.get $p)))))
        (local.set $r (i8x16.swizzle (local.get $v) (local.get $kr)))
        (local.set $g (i8x16.swizzle (local.get $v) (local.get $kg)))
        (local.set $b (i8x16.swizzle (local.get $v) (local.get $kb)))
        ;; Luminance of pixels 0,1 then 2,3 in f64, in NumPy's order ((R*cr + G*cg) + B*cb).
        (local.set $lo
          (f64x2.add
            (f64x2.add
              (f64x2.mul (f64x2.convert_low_i32x4_u (local.get $r)) (local.get $cr))
              (f64x2.mul (f64x2.convert_low_i32x4_u (local.get $g)) (local.get $cg)))
            (f64x2.mul (f64x2.convert_low_i32x4_u (local.get $b)) (local.get $cb))))
        (local.set $hi
          (f64x2.add
            (f64x2.add
              (f64x2.mul (f64x2.convert_low_i32x4_u
                (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $r) (local.get $r)))
                (local.get $cr))
              (f64x2.mul (f64x2.convert_low_i32x4_u
                (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g)))
                (local.get $cg)))
            (f64x2.mul (f64x2.convert_low_i32x4_u
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b) (local.get $b)))
              (local.get $cb))))
        (v128.store (i32.add (local.get $luma) (i32.shl (local.get $i) (i32.const 2)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo))
            (f32x4.demote_f64x2_zero (local.get $hi))))
        (local.set $gi
          (i32x4.shr_u
            (i32x4.add
              (i32x4.add
                (i32x4.add
                  (i32x4.mul (local.get $r) (local.get $gr))
                  (i32x4.mul (local.get $g) (local.get $gg2)))
                (i32x4.mul (local.get $b) (local.get $gb)))
              (local.get $gh))
            (i32.const 16)))
        (local.set $gi (i16x8.narrow_i32x4_u (local.get $gi) (local.get $gi)))
        (v128.store32_lane 0 (i32.add (local.get $grey) (local.get $i))
          (i8x16.narrow_i16x8_u (local.get $gi) (local.get $gi)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quad)))
    ;; The last n % 4 pixels, one at a time.
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $rgba) (i32.shl (local.get $i) (i32.const 2))))
        (if (i32.ne (i32.load8_u offset=3 (local.get $p)) (i32.const 255))
          (then (local.set $any (i32.const 1)) (call $flatten1 (local.get $p))))
        (local.set $rr (i32.load8_u (local.get $p)))
        (local.set $gg (i32.load8_u offset=1 (local.get $p)))
        (local.set $bb (i32.load8_u offset=2 (local.get $p)))
        (if (local.get $bgra)
          (then
            (local.set $bb (local.get $rr))
            (local.set $rr (i32.load8_u offset=2 (local.get $p)))))
        (f32.store (i32.add (local.get $luma) (i32.shl (local.get $i) (i32.const 2)))
          (f32.demote_f64
            (f64.add
              (f64.add
                (f64.mul (f64.convert_i32_u (local.get $rr)) (f64.const 0.299))
                (f64.mul (f64.convert_i32_u (local.get $gg)) (f64.const 0.587)))
              (f64.mul (f64.convert_i32_u (local.get $bb)) (f64.const 0.114)))))
        (i32.store8 (i32.add (local.get $grey) (local.get $i))
          (i32.shr_u
            (i32.add
              (i32.add
                (i32.add (i32.mul (local.get $rr) (i32.const 19595)) (i32.mul (local.get $gg) (i32.const 38470)))
                (i32.mul (local.get $bb) (i32.const 7471)))
              (i32.const 0x8000))
            (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (local.get $any))

  ;; Load element j (byte offset $off) of four rows into one f32x4.
  (func $gather (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32) (param $off i32) (result v128)
    (f32x4.replace_lane 3
      (f32x4.replace_lane 2
        (f32x4.replace_lane 1
          (f32x4.splat (f32.load (i32.add (local.get $a0) (local.get $off))))
          (f32.load (i32.add (local.get $a1) (local.get $off))))
        (f32.load (i32.add (local.get $a2) (local.get $off))))
      (f32.load (i32.add (local.get $a3) (local.get $off)))))

  (func $scatter (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32) (param $off i32) (param $v v128)
    (f32.store (i32.add (local.get $a0) (local.get $off)) (f32x4.extract_lane 0 (local.get $v)))
    (f32.store (i32.add (local.get $a1) (local.get $off)) (f32x4.extract_lane 1 (local.get $v)))
    (f32.store (i32.add (local.get $a2) (local.get $off)) (f32x4.extract_lane 2 (local.get $v)))
    (f32.store (i32.add (local.get $a3) (local.get $off)) (f32x4.extract_lane 3 (local.get $v))))

  ;; PDQ's box1DFloat along every row (pdq.js boxAlongRows), four rows at a time: the four
  ;; rows are interleaved into $strip (element j of each row side by side, one f32x4 per j),
  ;; filtered there with whole-vector loads and stores, and de-interleaved from $strip2 into
  ;; the output rows. The last group repeats the final row where fewer than four remain: it
  ;; computes the same values into the same place. $strip and $strip2 hold 16 * $cols bytes.
  (func $transpose_store (param $a v128) (param $b v128) (param $c v128) (param $d v128)
      (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
  (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
  (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
  (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
  (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d)))
  (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d)))
  (v128.store (local.get $p0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
  (v128.store (local.get $p1) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
  (v128.store (local.get $p2) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
  (v128.store (local.get $p3) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3))))

  (func (export "boxRows") (param $in i32) (param $out i32) (param $rows i32) (param $cols i32) (param $window i32) (param $strip i32) (param $strip2 i32)
      (param $picked i32) (param $npicked i32) (param $divisors i32)
  (local $half i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $p4 i32)
  (local $r i32) (local $k i32) (local $j i32) (local $j4 i32) (local $stride i32) (local $last i32)
  (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32)
  (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
  (local $li i32) (local $ri i32) (local $oi i32) (local $size f32)
  (local $sum v128) (local $q i32) (local $s i32)
  (local.set $half (i32.div_s (i32.add (local.get $window) (i32.const 2)) (i32.const 2)))
  (local.set $p1 (i32.sub (local.get $half) (i32.const 1)))
  (local.set $p2 (i32.add (i32.sub (local.get $window) (local.get $half)) (i32.const 1)))
  (local.set $p3 (i32.sub (local.get $cols) (local.get $window)))
  (local.set $p4 (i32.sub (local.get $half) (i32.const 1)))
  (local.set $stride (i32.shl (local.get $cols) (i32.const 2)))
  (local.set $last (i32.sub (local.get $rows) (i32.const 1)))
  (local.set $j4 (i32.and (local.get $cols) (i32.const -4)))
  (block $rows_done
    (loop $row_group
      (br_if $rows_done (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $i0 (i32.add (local.get $in) (i32.mul (local.get $r) (local.get $stride))))
      (local.set $o0 (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $stride))))
      (local.set $k (select (i32.add (local.get $r) (i32.const 1)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 1)) (local.get $rows))))
      (local.set $i1 (i32.add (local.get $in) (i32.mul (local.get $k) (local.get $stride))))
      (local.set $o1 (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $stride))))
      (local.set $k (select (i32.add (local.get $r) (i32.const 2)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 2)) (local.get $rows))))
      (local.set $i2 (i32.add (local.get $in) (i32.mul (local.get $k) (local.get $stride))))
      (local.set $o2 (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $stride))))
      (local.set $k (select (i32.add (local.get $r) (i32.const 3)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 3)) (local.get $rows))))
      (local.set $i3 (i32.add (local.get $in) (i32.mul (local.get $k) (local.get $stride))))
      (local.set $o3 (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $stride))))
      ;; Interleave the four rows into $strip.
      (local.set $j (i32.const 0))
      (block $ie (loop $il
        (br_if $ie (i32.ge_s (local.get $j) (local.get $j4)))
        (local.set $q (i32.shl (local.get $j) (i32.const 2)))
        (local.set $s (i32.add (local.get $strip) (i32.shl (local.get $j) (i32.const 4))))
        (call $transpose_store
          (v128.load (i32.add (local.get $i0) (local.get $q)))
          (v128.load (i32.add (local.get $i1) (local.get $q)))
          (v128.load (i32.add (local.get $i2) (local.get $q)))
          (v128.load (i32.add (local.get $i3) (local.get $q)))
          (local.get $s) (i32.add (local.get $s) (i32.const 16))
          (i32.add (local.get $s) (i32.const 32)) (i32.add (local.get $s) (i32.const 48)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $il)))
      (block $te (loop $tl
        (br_if $te (i32.ge_s (local.get $j) (local.get $cols)))
        (v128.store (i32.add (local.get $strip) (i32.shl (local.get $j) (i32.const 4)))
          (call $gather (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $tl)))
      (local.set $sum (v128.const f32x4 0 0 0 0))
      (local.set $size (f32.const 0))
      (local.set $li (local.get $strip))
      (local.set $ri (local.get $strip))
      (local.set $oi (local.get $strip2))
      ;; Phase 1: accumulate, no writes.
      (local.set $k (i32.const 0))
      (block $e1 (loop $l1
        (br_if $e1 (i32.ge_s (local.get $k) (local.get $p1)))
        (local.set $sum (f32x4.add (local.get $sum) (v128.load (local.get $ri))))
        (local.set $ri (i32.add (local.get $ri) (i32.const 16)))
        (local.set $size (f32.add (local.get $size) (f32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l1)))
      ;; Phase 2: accumulate and write with a growing window.
      (local.set $k (i32.const 0))
      (block $e2 (loop $l2
        (br_if $e2 (i32.ge_s (local.get $k) (local.get $p2)))
        (local.set $sum (f32x4.add (local.get $sum) (v128.load (local.get $ri))))
        (local.set $ri (i32.add (local.get $ri) (i32.const 16)))
        (local.set $size (f32.add (local.get $size) (f32.const 1)))
        (v128.store (local.get $oi) (f32x4.div (local.get $sum) (f32x4.splat (local.get $size))))
        (local.set $oi (i32.add (local.get $oi) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l2)))
      ;; Phase 3: slide the full window. When only picked columns are kept, the sums are
      ;; stored as they are and just the picked ones divided below (by $divisors: the same
      ;; size, or 1.0 for a column already divided; x / 1.0 is x exactly), not every column.
      (local.set $k (i32.const 0))
      (if (i32.gt_s (local.get $npicked) (i32.const 0))
        (then
          (block $e3r (loop $l3r
            (br_if $e3r (i32.ge_s (local.get $k) (local.get $p3)))
            (local.set $sum (f32x4.sub (f32x4.add (local.get $sum) (v128.load (local.get $ri))) (v128.load (local.get $li))))
            (local.set $ri (i32.add (local.get $ri) (i32.const 16)))
            (local.set $li (i32.add (local.get $li) (i32.const 16)))
            (v128.store (local.get $oi) (local.get $sum))
            (local.set $oi (i32.add (local.get $oi) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $l3r)))))
      (block $e3 (loop $l3
        (br_if $e3 (i32.ge_s (local.get $k) (local.get $p3)))
        (local.set $sum (f32x4.sub (f32x4.add (local.get $sum) (v128.load (local.get $ri))) (v128.load (local.get $li))))
        (local.set $ri (i32.add (local.get $ri) (i32.const 16)))
        (local.set $li (i32.add (local.get $li) (i32.const 16)))
        (v128.store (local.get $oi) (f32x4.div (local.get $sum) (f32x4.splat (local.get $size))))
        (local.set $oi (i32.add (local.get $oi) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l3)))
      ;; Phase 4: shrink the window at the end.
      (local.set $k (i32.const 0))
      (block $e4 (loop $l4
        (br_if $e4 (i32.ge_s (local.get $k) (local.get $p4)))
        (local.set $sum (f32x4.sub (local.get $sum) (v128.load (local.get $li))))
        (local.set $li (i32.add (local.get $li) (i32.const 16)))
        (local.set $size (f32.sub (local.get $size) (f32.const 1)))
        (v128.store (local.get $oi) (f32x4.div (local.get $sum) (f32x4.splat (local.get $size))))
        (local.set $oi (i32.add (local.get $oi) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l4)))
      ;; With $npicked > 0, keep only the columns listed at $picked (i32 indices): output row
      ;; r is then $npicked floats wide. PDQ's last row pass needs just the 64 columns that
      ;; decimation samples (the running sums above still cover every column).
      (if (i32.gt_s (local.get $npicked) (i32.const 0))
        (then
          (local.set $q (i32.shl (local.get $npicked) (i32.const 2)))
          (local.set $o0 (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $q))))
          (local.set $k (select (i32.add (local.get $r) (i32.const 1)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 1)) (local.get $rows))))
          (local.set $o1 (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $q))))
          (local.set $k (select (i32.add (local.get $r) (i32.const 2)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 2)) (local.get $rows))))
          (local.set $o2 (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $q))))
          (local.set $k (select (i32.add (local.get $r) (i32.const 3)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 3)) (local.get $rows))))
          (local.set $o3 (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $q))))
          (local.set $j (i32.const 0))
          (block $pe (loop $pl
            (br_if $pe (i32.ge_s (local.get $j) (local.get $npicked)))
            (call $scatter (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3) (i32.shl (local.get $j) (i32.const 2))
              (f32x4.div
                (v128.load (i32.add (local.get $strip2)
                  (i32.shl (i32.load (i32.add (local.get $picked) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 4))))
                (f32x4.splat (f32.load (i32.add (local.get $divisors) (i32.shl (local.get $j) (i32.const 2)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $pl)))
          (local.set $r (i32.add (local.get $r) (i32.const 4)))
          (br $row_group)))
      ;; De-interleave $strip2 into the four output rows.
      (local.set $j (i32.const 0))
      (block $de (loop $dl
        (br_if $de (i32.ge_s (local.get $j) (local.get $j4)))
        (local.set $q (i32.shl (local.get $j) (i32.const 2)))
        (local.set $s (i32.add (local.get $strip2) (i32.shl (local.get $j) (i32.const 4))))
        (call $transpose_store
          (v128.load (local.get $s))
          (v128.load offset=16 (local.get $s))
          (v128.load offset=32 (local.get $s))
          (v128.load offset=48 (local.get $s))
          (i32.add (local.get $o0) (local.get $q)) (i32.add (local.get $o1) (local.get $q))
          (i32.add (local.get $o2) (local.get $q)) (i32.add (local.get $o3) (local.get $q)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $dl)))
      (block $dte (loop $dtl
        (br_if $dte (i32.ge_s (local.get $j) (local.get $cols)))
        (call $scatter (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3) (i32.shl (local.get $j) (i32.const 2))
          (v128.load (i32.add (local.get $strip2) (i32.shl (local.get $j) (i32.const 4)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $dtl)))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $row_group))))

  ;; One row step of PDQ's column box filter (pdq.js boxAlongCols) across all columns:
  ;; sums += row $add (if >= 0); sums -= row $sub (if >= 0); row $dst = sums / size (if >= 0).
  (func (export "colStep") (param $add i32) (param $sub i32) (param $dst i32) (param $sums i32) (param $cols i32) (param $size f32)
    (local $j i32) (local $c4 i32) (local $s v128) (local $d v128) (local $x f32)
    (local.set $c4 (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (local.set $d (f32x4.splat (local.get $size)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $j) (local.get $c4)))
      (local.set $s (v128.load (i32.add (local.get $sums) (local.get $j))))
      (if (i32.ge_s (local.get $add) (i32.const 0))
        (then (local.set $s (f32x4.add (local.get $s) (v128.load (i32.add (local.get $add) (local.get $j)))))))
      (if (i32.ge_s (local.get $sub) (i32.const 0))
        (then (local.set $s (f32x4.sub (local.get $s) (v128.load (i32.add (local.get $sub) (local.get $j)))))))
      (v128.store (i32.add (local.get $sums) (local.get $j)) (local.get $s))
      (if (i32.ge_s (local.get $dst) (i32.const 0))
        (then (v128.store (i32.add (local.get $dst) (local.get $j)) (f32x4.div (local.get $s) (local.get $d)))))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $l)))
    (local.set $c4 (i32.shl (local.get $cols) (i32.const 2)))
    (block $tdone (loop $t
      (br_if $tdone (i32.ge_u (local.get $j) (local.get $c4)))
      (local.set $x (f32.load (i32.add (local.get $sums) (local.get $j))))
      (if (i32.ge_s (local.get $add) (i32.const 0))
        (then (local.set $x (f32.add (local.get $x) (f32.load (i32.add (local.get $add) (local.get $j)))))))
      (if (i32.ge_s (local.get $sub) (i32.const 0))
        (then (local.set $x (f32.sub (local.get $x) (f32.load (i32.add (local.get $sub) (local.get $j)))))))
      (f32.store (i32.add (local.get $sums) (local.get $j)) (local.get $x))
      (if (i32.ge_s (local.get $dst) (i32.const 0))
        (then (f32.store (i32.add (local.get $dst) (local.get $j)) (f32.div (local.get $x) (local.get $size)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $t))))

  ;; Pillow's ImagingResampleHorizontal_8bpc for an "L" image (imagehash.js resizeLanczosL):
  ;; rows [row0, row0+nrows) of the $width-wide 8-bit image at $src, into $nrows x $outW bytes
  ;; at $dst; $bounds holds (xmin, count) i32 pairs. 8 taps per step: the same exact integer
  ;; sum, through i32x4.dot_i16x8_s.
  ;; Each output pixel's weights are padded with zeros to $kstride (a multiple of 8) i16
  ;; values; a weight k is split as k = hi * 32768 + lo (lo in 0..32767, at $klo; hi at $khi,
  ;; or $khi = 0 where every weight fits 16 bits and lo is k itself). The sum is taken modulo
  ;; 2^32 (wrapping adds), and Pillow's own int32 sum never leaves that range, so the result
  ;; is its sum bit for bit. Reads up to 7 bytes past a row's last tap (weights 0 there).
  (func (export "resampleHDot") (param $src i32) (param $width i32) (param $row0 i32) (param $nrows i32)
        (param $outW i32) (param $bounds i32) (param $klo i32) (param $khi i32) (param $kstride i32) (param $dst i32)
    (local $yy i32) (local $xx i32) (local $x i32) (local $n i32)
    (local $row i32) (local $pp i32) (local $kl i32) (local $kh i32) (local $px v128)
    (local $accl v128) (local $acch v128) (local $ss i32) (local $sh i32)
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_s (local.get $yy) (local.get $nrows)))
      (local.set $row (i32.add (local.get $src) (i32.mul (i32.add (local.get $row0) (local.get $yy)) (local.get $width))))
      (local.set $xx (i32.const 0))
      (block $cols_done (loop $cols
        (br_if $cols_done (i32.ge_s (local.get $xx) (local.get $outW)))
        (local.set $pp (i32.add (local.get $row) (i32.load (i32.add (local.get $bounds) (i32.shl (local.get $xx) (i32.const 3))))))
        (local.set $n (i32.load offset=4 (i32.add (local.get $bounds) (i32.shl (local.get $xx) (i32.const 3)))))
        (local.set $kl (i32.add (local.get $klo) (i32.shl (i32.mul (local.get $xx) (local.get $kstride)) (i32.const 1))))
        (local.set $accl (v128.const i32x4 0 0 0 0))
        (local.set $acch (v128.const i32x4 0 0 0 0))
        (local.set $x (i32.const 0))
        (if (local.get $khi)
          (then
            (local.set $kh (i32.add (local.get $khi) (i32.shl (i32.mul (local.get $xx) (local.get $kstride)) (i32.const 1))))
            (block $h_done (loop $h
              (br_if $h_done (i32.ge_s (local.get $x) (local.get $n)))
              (local.set $px (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $pp) (local.get $x)))))
              (local.set $accl (i32x4.add (local.get $accl)
                (i32x4.dot_i16x8_s (local.get $px) (v128.load (i32.add (local.get $kl) (i32.shl (local.get $x) (i32.const 1)))))))
              (local.set $acch (i32x4.add (local.get $acch)
                (i32x4.dot_i16x8_s (local.get $px) (v128.load (i32.add (local.get $kh) (i32.shl (local.get $x) (i32.const 1)))))))
              (local.set $x (i32.add (local.get $x) (i32.const 8)))
              (br $h))))
          (else
            (block $l_done (loop $l
              (br_if $l_done (i32.ge_s (local.get $x) (local.get $n)))
              (local.set $accl (i32x4.add (local.get $accl)
                (i32x4.dot_i16x8_s
                  (i16x8.extend_low_i8x16_u (v128.load64_zero (i32.add (local.get $pp) (local.get $x))))
                  (v128.load (i32.add (local.get $kl) (i32.shl (local.get $x) (i32.const 1)))))))
              (local.set $x (i32.add (local.get $x) (i32.const 8)))
              (br $l)))))
        (local.set $ss
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $accl)) (i32x4.extract_lane 1 (local.get $accl)))
            (i32.add (i32x4.extract_lane 2 (local.get $accl)) (i32x4.extract_lane 3 (local.get $accl)))))
        (local.set $sh
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acch)) (i32x4.extract_lane 1 (local.get $acch)))
            (i32.add (i32x4.extract_lane 2 (local.get $acch)) (i32x4.extract_lane 3 (local.get $acch)))))
        ;; + 1 << (PRECISION_BITS - 1), then clip8: shift down by 22, clamp to 0..255.
        (local.set $ss (i32.shr_s
          (i32.add (i32.add (local.get $ss) (i32.shl (local.get $sh) (i32.const 15))) (i32.const 0x200000))
          (i32.const 22)))
        (i32.store8 (i32.add (local.get $dst) (i32.add (i32.mul (local.get $yy) (local.get $outW)) (local.get $xx)))
          (select (i32.const 0)
            (select (i32.const 255) (local.get $ss) (i32.gt_s (local.get $ss) (i32.const 255)))
            (i32.lt_s (local.get $ss) (i32.const 0))))
        (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
        (br $cols)))
      (local.set $yy (i32.add (local.get $yy) (i32.const 1)))
      (br $rows))))

  ;; Copy 32-bit pixels from $src to a $dstW x $dstH image at $dst, applying a rotation
  ;; and/or mirror: destination pixel (x, y) is source pixel $start + x*$stepX + y*$stepY
  ;; (pixel units; steps may be negative). Walks 64x64 tiles so that a 90-degree turn,
  ;; which reads down the source's columns, stays within the cache.
  (func (export "orient") (param $src i32) (param $dst i32) (param $dstW i32) (param $dstH i32)
        (param $start i32) (param $stepX i32) (param $stepY i32)
    (local $ty i32) (local $tx i32) (local $y i32) (local $x i32) (local $yEnd i32) (local $xEnd i32)
    (local $s i32) (local $d i32) (local $sx i32)
    (local.set $sx (i32.shl (local.get $stepX) (i32.const 2)))
    (block $ty_done (loop $ty_loop
      (br_if $ty_done (i32.ge_s (local.get $ty) (local.get $dstH)))
      (local.set $yEnd (select (i32.add (local.get $ty) (i32.const 64)) (local.get $dstH)
        (i32.lt_s (i32.add (local.get $ty) (i32.const 64)) (local.get $dstH))))
      (local.set $tx (i32.const 0))
      (block $tx_done (loop $tx_loop
        (br_if $tx_done (i32.ge_s (local.get $tx) (local.get $dstW)))
        (local.set $xEnd (select (i32.add (local.get $tx) (i32.const 64)) (local.get $dstW)
          (i32.lt_s (i32.add (local.get $tx) (i32.const 64)) (local.get $dstW))))
        (local.set $y (local.get $ty))
        (block $y_done (loop $y_loop
          (br_if $y_done (i32.ge_s (local.get $y) (local.get $yEnd)))
          (local.set $s (i32.add (local.get $src) (i32.shl
            (i32.add (local.get $start)
              (i32.add (i32.mul (local.get $tx) (local.get $stepX)) (i32.mul (local.get $y) (local.get $stepY))))
            (i32.const 2))))
          (local.set $d (i32.add (local.get $dst)
            (i32.shl (i32.add (i32.mul (local.get $y) (local.get $dstW)) (local.get $tx)) (i32.const 2))))
          (local.set $x (local.get $tx))
          (block $x_done (loop $x_loop
            (br_if $x_done (i32.ge_s (local.get $x) (local.get $xEnd)))
            (i32.store (local.get $d) (i32.load (local.get $s)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $s (i32.add (local.get $s) (local.get $sx)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $x_loop)))
          (local.set $y (i32.add (local.get $y) (i32.const 1)))
          (br $y_loop)))
        (local.set $tx (i32.add (local.get $tx) (i32.const 64)))
        (br $tx_loop)))
      (local.set $ty (i32.add (local.get $ty) (i32.const 64)))
      (br $ty_loop))))
)
