;; The vector scan's inner loop, in WebAssembly with 128-bit SIMD (four f32 lanes at a time).
;; Compiled to libs/store/src/simd/accumulate-wasm.ts by `node libs/store/simd/build.ts`;
;; a test checks the two agree.
;;
;; accumulate(values, rows, out, dims, weights, count, stride), all pointers byte offsets into
;; memory: for each k < count, with d = dims[k] (i32) and w = weights[k] (f32),
;;   out[i] += w * values[d * stride / 4 + i]   for every i < rows (rows a multiple of 4).
;; `values` is the first row of a run of rows stored by dimension: a column per dimension,
;; `stride` bytes apart, the run's values of each dimension side by side in its column.
;;
;; Eight dimensions are added per pass over the rows, then the rest one at a time: eight columns
;; read side by side, and each row's score loaded and stored once per eight, scan ~2.9 times faster
;; than one dimension per pass (98k rows of 384 dimensions, 58 of them in the query: 2.8 ms → 1.0).
;; Sixteen per pass is slower again (more live vectors than the CPU has registers).
;;
;; select(scores, norms, rows, threshold, out) -> count: the rows i < rows (a multiple of 4) whose
;; scores[i] * norms[i] (f32) exceed `threshold`, their indexes written to out (i32) in order. A scan
;; of 100k rows passes on about a thousand rows instead of every one (the per-row loop in JavaScript
;; cost 5-10% of the vector side).
(module
  (import "env" "memory" (memory 1 65536))

  ;; Where dimension dims[k]'s column starts (columns `$columnBytes` apart).
  (func $column (param $values i32) (param $dims i32) (param $k i32) (param $columnBytes i32) (result i32)
    (i32.add (local.get $values)
      (i32.mul (i32.load (i32.add (local.get $dims) (i32.shl (local.get $k) (i32.const 2))))
               (local.get $columnBytes))))

  ;; weights[k] in every lane.
  (func $weight (param $weights i32) (param $k i32) (result v128)
    (f32x4.splat (f32.load (i32.add (local.get $weights) (i32.shl (local.get $k) (i32.const 2))))))

  (func (export "accumulate") (param $values i32) (param $rows i32) (param $out i32)
        (param $dims i32) (param $weights i32) (param $count i32) (param $stride i32)
    (local $k i32) (local $i i32) (local $end i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $c4 i32) (local $c5 i32) (local $c6 i32) (local $c7 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $w4 v128) (local $w5 v128) (local $w6 v128) (local $w7 v128)
    ;; The end of the rows, in bytes.
    (local.set $end (i32.shl (local.get $rows) (i32.const 2)))
    (block $eightsDone
      (loop $eights
        (br_if $eightsDone (i32.gt_u (i32.add (local.get $k) (i32.const 8)) (local.get $count)))
        (local.set $c0 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 0)) (local.get $stride)))
        (local.set $w0 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 0))))
        (local.set $c1 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 1)) (local.get $stride)))
        (local.set $w1 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 1))))
        (local.set $c2 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 2)) (local.get $stride)))
        (local.set $w2 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 2))))
        (local.set $c3 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 3)) (local.get $stride)))
        (local.set $w3 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 3))))
        (local.set $c4 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 4)) (local.get $stride)))
        (local.set $w4 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 4))))
        (local.set $c5 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 5)) (local.get $stride)))
        (local.set $w5 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 5))))
        (local.set $c6 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 6)) (local.get $stride)))
        (local.set $w6 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 6))))
        (local.set $c7 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 7)) (local.get $stride)))
        (local.set $w7 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 7))))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $row
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $end)))
            (v128.store (i32.add (local.get $out) (local.get $i))
              (f32x4.add (v128.load (i32.add (local.get $out) (local.get $i)))
                (f32x4.add
                  (f32x4.add
                    (f32x4.add
                      (f32x4.mul (local.get $w0) (v128.load (i32.add (local.get $c0) (local.get $i))))
                      (f32x4.mul (local.get $w1) (v128.load (i32.add (local.get $c1) (local.get $i)))))
                    (f32x4.add
                      (f32x4.mul (local.get $w2) (v128.load (i32.add (local.get $c2) (local.get $i))))
                      (f32x4.mul (local.get $w3) (v128.load (i32.add (local.get $c3) (local.get $i))))))
                  (f32x4.add
                    (f32x4.add
                      (f32x4.mul (local.get $w4) (v128.load (i32.add (local.get $c4) (local.get $i))))
                      (f32x4.mul (local.get $w5) (v128.load (i32.add (local.get $c5) (local.get $i)))))
                    (f32x4.add
                      (f32x4.mul (local.get $w6) (v128.load (i32.add (local.get $c6) (local.get $i))))
                      (f32x4.mul (local.get $w7) (v128.load (i32.add (local.get $c7) (local.get $i)))))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $row)))
        (local.set $k (i32.add (local.get $k) (i32.const 8)))
        (br $eights)))
    (block $done
      (loop $one
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $c0 (call $column (local.get $values) (local.get $dims) (local.get $k) (local.get $stride)))
        (local.set $w0 (call $weight (local.get $weights) (local.get $k)))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $row
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $end)))
            (v128.store (i32.add (local.get $out) (local.get $i))
              (f32x4.add (v128.load (i32.add (local.get $out) (local.get $i)))
                         (f32x4.mul (local.get $w0) (v128.load (i32.add (local.get $c0) (local.get $i))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $row)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $one))))

  ;; Appends index $i to out if bit $bit of $mask is set; returns the new count.
  (func $keep (param $mask i32) (param $bit i32) (param $i i32) (param $out i32) (param $count i32) (result i32)
    (if (result i32) (i32.and (local.get $mask) (i32.shl (i32.const 1) (local.get $bit)))
      (then
        (i32.store (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2)))
                   (i32.add (local.get $i) (local.get $bit)))
        (i32.add (local.get $count) (i32.const 1)))
      (else (local.get $count))))

  (func (export "select") (param $scores i32) (param $norms i32) (param $rows i32)
        (param $threshold f32) (param $out i32) (result i32)
    (local $i i32) (local $count i32) (local $mask i32) (local $bar v128)
    (local.set $bar (f32x4.splat (local.get $threshold)))
    (block $done
      (loop $four
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $mask
          (i32x4.bitmask
            (f32x4.gt
              (f32x4.mul
                (v128.load (i32.add (local.get $scores) (i32.shl (local.get $i) (i32.const 2))))
                (v128.load (i32.add (local.get $norms) (i32.shl (local.get $i) (i32.const 2)))))
              (local.get $bar))))
        (if (local.get $mask)
          (then
            (local.set $count (call $keep (local.get $mask) (i32.const 0) (local.get $i) (local.get $out) (local.get $count)))
            (local.set $count (call $keep (local.get $mask) (i32.const 1) (local.get $i) (local.get $out) (local.get $count)))
            (local.set $count (call $keep (local.get $mask) (i32.const 2) (local.get $i) (local.get $out) (local.get $count)))
            (local.set $count (call $keep (local.get $mask) (i32.const 3) (local.get $i) (local.get $out) (local.get $count)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $four)))
    (local.get $count)))
