using EdgeSplit.Cli.Commands;

return await EdgeSplitCli.RunAsync(args);
