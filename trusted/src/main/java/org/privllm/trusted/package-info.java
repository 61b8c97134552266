package org.privllm.trusted;
