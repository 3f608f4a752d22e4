/* amber_call_on_stack(void (*fn)(void *), void *arg, void *top): calls fn(arg) with the stack
 * pointer at top (aligned down to 16 bytes) and returns on the caller's stack. The caller's
 * frame pointer holds the way back, so fn may be resumed by the restorer (amber_ctx_save)
 * and still return here. */
	.text
	.globl amber_call_on_stack
	.hidden amber_call_on_stack
	.type amber_call_on_stack, @function
amber_call_on_stack:
	pushq %rbp
	movq %rsp, %rbp
	andq $-16, %rdx
	movq %rdx, %rsp
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	movq %rbp, %rsp
	popq %rbp
	ret
	.size amber_call_on_stack, .-amber_call_on_stack
	.section .note.GNU-stack,"",@progbits
