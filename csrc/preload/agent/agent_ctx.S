/* amber_ctx_save(struct amber_ctx *ctx): saves the callee-saved registers, the stack pointer
 * and the return address, and returns 0. The restorer later resumes a thread there with the
 * saved registers, and it returns 1, as setjmp does (but with no pointer mangling, so the
 * restorer needs no libc secrets). */
	.text
	.globl amber_ctx_save
	.hidden amber_ctx_save
	.type amber_ctx_save, @function
amber_ctx_save:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)
	movq (%rsp), %rax
	movq %rax, 56(%rdi)
	xorl %eax, %eax
	ret
	.size amber_ctx_save, .-amber_ctx_save
	.section .note.GNU-stack,"",@progbits
