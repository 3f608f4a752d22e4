/* The restorer's entry and its two register-level moves. */
	.text
	.globl _start
_start:
	movq %rsp, %rdi                 /* the kernel's stack: argc, argv, envp, auxv */
	movq restorer_stack_top(%rip), %rsp
	andq $-16, %rsp
	call restorer_main
	hlt

/* restorer_resume(const struct amber_ctx *ctx): becomes the thread that saved ctx, returning
 * 1 from its amber_ctx_save. */
	.globl restorer_resume
restorer_resume:
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	movl $1, %eax
	jmpq *56(%rdi)

/* restorer_spawn_thread(flags, stack, tls, ctx): clone(2) a thread that resumes ctx. */
	.globl restorer_spawn_thread
restorer_spawn_thread:
	pushq %r12
	movq %rcx, %r12                 /* ctx survives the clone in a callee-saved register */
	movq %rdx, %r8                  /* tls */
	xorl %edx, %edx                 /* parent_tid */
	xorl %r10d, %r10d               /* child_tid */
	movl $56, %eax                  /* SYS_clone */
	syscall
	testq %rax, %rax
	jnz 1f
	movq %r12, %rdi
	jmp restorer_resume
1:	popq %r12
	ret
	.section .note.GNU-stack,"",@progbits
