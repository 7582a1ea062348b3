using EdgeSplit.Cli;

return await EdgeSplitCli.RunAsync(args);
