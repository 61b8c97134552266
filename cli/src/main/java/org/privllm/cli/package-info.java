package org.privllm.cli;
