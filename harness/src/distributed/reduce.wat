;; SIMD kernels of the ring all-reduce (reduce.ts embeds the binary). Rebuild after an edit with wabt:
;;   npx -p wabt@1.0.36 wat2wasm reduce.wat -o reduce.wasm && base64 -w0 reduce.wasm   (paste into REDUCE_WASM in reduce.ts)
;; Both kernels use float32 arithmetic, so they give the same bits as reduce.ts's JavaScript fallback.
(module
  (import "env" "memory" (memory 1))
  (func (export "add") (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32) (local $vend i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vdone (loop $v
      (br_if $vdone (i32.ge_u (local.get $dst) (local.get $vend)))
      (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (br $v)))
    (block $done (loop $s
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br $s))))
  (func (export "addDiv") (param $dst i32) (param $src i32) (param $n i32) (param $d f32)
    (local $end i32) (local $vend i32) (local $dv v128)
    (local.set $dv (f32x4.splat (local.get $d)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vdone (loop $v
      (br_if $vdone (i32.ge_u (local.get $dst) (local.get $vend)))
      (v128.store (local.get $dst) (f32x4.div (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))) (local.get $dv)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (br $v)))
    (block $done (loop $s
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (f32.store (local.get $dst) (f32.div (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))) (local.get $d)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br $s))))
)
