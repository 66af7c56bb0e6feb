;; The vector scan's inner loop, in WebAssembly with 128-bit SIMD (four f32 lanes at a time).
;; Compiled to libs/store/src/simd/accumulate-wasm.ts by `node libs/store/simd/build.ts`;
;; a test checks the two agree.
;;
;; accumulate(values, rows, out, dims, weights, count), all pointers byte offsets into memory:
;; for each k < count, with d = dims[k] (i32) and w = weights[k] (f32),
;;   out[i] += w * values[d * rows + i]   for every i < rows (rows a multiple of 4).
;; `values` is one block of vectors stored by dimension: `rows` values of dimension 0, then of 1, ...
(module
  (import "env" "memory" (memory 1 65536))
  (func (export "accumulate") (param $values i32) (param $rows i32) (param $out i32)
        (param $dims i32) (param $weights i32) (param $count i32)
    (local $k i32) (local $column i32) (local $i i32) (local $end i32) (local $w v128)
    (local.set $end (i32.shl (local.get $rows) (i32.const 2)))
    (block $done
      (loop $dim
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $column
          (i32.add (local.get $values)
            (i32.mul (i32.load (i32.add (local.get $dims) (i32.shl (local.get $k) (i32.const 2))))
                     (local.get $end))))
        (local.set $w
          (f32x4.splat (f32.load (i32.add (local.get $weights) (i32.shl (local.get $k) (i32.const 2))))))
        (local.set $i (i32.const 0))
        (block $rowsDone
          (loop $row
            (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $end)))
            (v128.store (i32.add (local.get $out) (local.get $i))
              (f32x4.add (v128.load (i32.add (local.get $out) (local.get $i)))
                         (f32x4.mul (local.get $w)
                                    (v128.load (i32.add (local.get $column) (local.get $i))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $row)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $dim)))))
