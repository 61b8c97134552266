package org.privllm.lab;
