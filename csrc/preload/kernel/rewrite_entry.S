/* Where a rewritten site's trampoline jumps (rewrite.c): rax holds the call's number, rcx the
 * site's end (after its syscall instruction, which stays in place), the arguments are in their
 * registers and rsp is the program's (a goroutine's stack may be small). A call the library
 * translates without a signal frame (the bitmap), on a thread that has its own stack and is
 * not on it already, is made there: every register but rax, rcx and r11 (which a syscall
 * clobbers too) comes back as it was, the vector state by xsave/xrstor. Anything else goes
 * back to the site's own syscall instruction, which passes in the kernel or traps as before. */
	.text
	.globl amber_rw_entry
	.hidden amber_rw_entry
	.type amber_rw_entry, @function
	.p2align 4
amber_rw_entry:
	cmpq $512, %rax
	jae 9f
	btq %rax, amber_rw_handled(%rip)
	jnc 9f
	/* A thread made by a raw clone without CLONE_SETTLS shares its creator's TLS, where the
	 * per-thread stack below is found: once there is one, every call traps (raw_threads.h). */
	cmpl $0, amber_raw_threads(%rip)
	jne 9f
	movq amber_rw_tls@gottpoff(%rip), %r11
	cmpq $0, %fs:0(%r11)
	je 9f
	cmpq $0, %fs:8(%r11)
	jne 9f
	movq $1, %fs:8(%r11)
	movq %rsp, %fs:16(%r11)
	movq %fs:0(%r11), %rsp
	pushq %rcx
	pushfq
	pushq %r9
	pushq %r8
	pushq %r10
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rax
	pushq %rbx
	movq %rsp, %rbx
	subq $4096, %rsp
	andq $-64, %rsp
	/* The whole xsave header is zeroed first: xrstor faults on a reserved byte that is not
	 * zero or an XSTATE_BV bit that XCR0 lacks, and xsave writes only the XSTATE_BV bits it
	 * saves (those of 0xff that XCR0 has), leaving the others as they were. What was there
	 * may be anything: a signal that lands while this thread's stack pointer is near the top
	 * of its stack (before the area is set up, or after it is used) puts its frame and its
	 * handler's locals (the checkpoint's) where the area goes. */
	movq $0, 512(%rsp)
	movq $0, 520(%rsp)
	movq $0, 528(%rsp)
	movq $0, 536(%rsp)
	movq $0, 544(%rsp)
	movq $0, 552(%rsp)
	movq $0, 560(%rsp)
	movq $0, 568(%rsp)
	/* x87, SSE, AVX, MPX, AVX-512; xsave, not xsavec, which a CPU the process is restored on
	 * might lack */
	movl $0xff, %eax
	xorl %edx, %edx
	xsave (%rsp)
	cld
	leaq 8(%rbx), %rdi
	call amber_rw_dispatch
	movl $0xff, %eax
	xorl %edx, %edx
	xrstor (%rsp)
	movq %rbx, %rsp
	popq %rbx
	popq %rax
	popq %rdi
	popq %rsi
	popq %rdx
	popq %r10
	popq %r8
	popq %r9
	popfq
	popq %rcx
	movq amber_rw_tls@gottpoff(%rip), %r11
	movq %fs:16(%r11), %rsp
	movq $0, %fs:8(%r11)
	jmpq *%rcx
9:	subq $2, %rcx
	jmpq *%rcx
	.size amber_rw_entry, .-amber_rw_entry
	.section .note.GNU-stack, "", @progbits
