;; The vector scan's inner loop, in WebAssembly with 128-bit SIMD (four f32 lanes at a time).
;; Compiled to libs/store/src/simd/accumulate-wasm.ts by `node libs/store/simd/build.ts`;
;; a test checks the two agree.
;;
;; accumulate(values, rows, out, dims, weights, count), all pointers byte offsets into memory:
;; for each k < count, with d = dims[k] (i32) and w = weights[k] (f32),
;;   out[i] += w * values[d * rows + i]   for every i < rows (rows a multiple of 4).
;; `values` is one block of vectors stored by dimension: `rows` values of dimension 0, then of 1, ...
;;
;; Eight dimensions are added per pass over the rows, then the rest one at a time: eight columns
;; read side by side, and each row's score loaded and stored once per eight, scan ~2.9 times faster
;; than one dimension per pass (98k rows of 384 dimensions, 58 of them in the query: 2.8 ms → 1.0).
;; Sixteen per pass is slower again (more live vectors than the CPU has registers).
(module
  (import "env" "memory" (memory 1 65536))

  ;; Where dimension dims[k]'s column starts.
  (func $column (param $values i32) (param $dims i32) (param $k i32) (param $columnBytes i32) (result i32)
    (i32.add (local.get $values)
      (i32.mul (i32.load (i32.add (local.get $dims) (i32.shl (local.get $k) (i32.const 2))))
               (local.get $columnBytes))))

  ;; weights[k] in every lane.
  (func $weight (param $weights i32) (param $k i32) (result v128)
    (f32x4.splat (f32.load (i32.add (local.get $weights) (i32.shl (local.get $k) (i32.const 2))))))

  (func (export "accumulate") (param $values i32) (param $rows i32) (param $out i32)
        (param $dims i32) (param $weights i32) (param $count i32)
    (local $k i32) (local $i i32) (local $end i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $c4 i32) (local $c5 i32) (local $c6 i32) (local $c7 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $w4 v128) (local $w5 v128) (local $w6 v128) (local $w7 v128)
    ;; A column's bytes, and the end of the rows.
    (local.set $end (i32.shl (local.get $rows) (i32.const 2)))
    (block $eightsDone
      (loop $eights
        (br_if $eightsDone (i32.gt_u (i32.add (local.get $k) (i32.const 8)) (local.get $count)))
        (local.set $c0 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 0)) (local.get $end)))
        (local.set $w0 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 0))))
        (local.set $c1 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 1)) (local.get $end)))
        (local.set $w1 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 1))))
        (local.set $c2 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 2)) (local.get $end)))
        (local.set $w2 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 2))))
        (local.set $c3 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 3)) (local.get $end)))
        (local.set $w3 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 3))))
        (local.set $c4 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 4)) (local.get $end)))
        (local.set $w4 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 4))))
        (local.set $c5 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 5)) (local.get $end)))
        (local.set $w5 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 5))))
        (local.set $c6 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 6)) (local.get $end)))
        (local.set $w6 (call $weight (local.get $weights) (i32.add (local.get $k) (i32.const 6))))
        (local.set $c7 (call $column (local.get $values) (local.get $dims) (i32.add (local.get $k) (i32.const 7)) (local.get $end)))
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
        (local.set $c0 (call $column (local.get $values) (local.get $dims) (local.get $k) (local.get $end)))
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
        (br $one)))))
